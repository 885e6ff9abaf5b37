# shellcheck shell=bash
# Shared by the system tests that start processes of their own on loopback (sourced):
# a temporary directory removed at exit, the PIDs started (ended at exit, by PID), fail()
# with the tail of every log in the directory, and wait_for() on a log line.
# Usage: source lib.sh; system_test_dir NAME  (sets tmp; append started PIDs to pids)

pids=()
tmp=""
system_test_dir() {
    tmp="$(mktemp -d "/tmp/pixelring-$1.XXXXXX")"
    trap system_test_cleanup EXIT
}
system_test_cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
fail() {
    echo "FAIL: $*"
    for log in "$tmp"/*.log; do echo "== $log"; tail -n 30 "$log"; done
    exit 1
}
wait_for() { # wait_for SECONDS FILE TEXT
    for _ in $(seq $(($1 * 10))); do
        grep -qF -- "$3" "$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
