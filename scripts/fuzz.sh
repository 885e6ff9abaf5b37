#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (CMake preset fuzz: clang-14, ASan+UBSan, installing
# clang-14, libfuzzer-14-dev and the build dependencies with apt-get when any is missing, as
# scripts/setup.sh does) and runs each harness for SECONDS, one after another, one process at a
# time. The seeds (fuzz/corpus/<harness>/) and the saved reproducers (fuzz/regressions/<harness>/)
# are read, never written: new corpus entries and reproducers go to a scratch directory,
# $PIXELRING_FUZZ_DIR (default /tmp/pixelring-fuzz), kept between runs so that later runs start
# from what earlier ones found. Exits 1 when any harness reports a crash, a leak, a timeout,
# running out of memory or a UBSan error, after printing each reproducer and the command that
# replays it.
#
# Usage: scripts/fuzz.sh [--keep-going] [SECONDS] [HARNESS...]
#   SECONDS       per harness, default 60
#   HARNESS       some of: http_parser chunked_decoder beacon proxy_protocol url_fields redirect
#                 user_agent event_encoder config (default: all)
#   --keep-going  for long campaigns: libFuzzer's -fork=1 -ignore_crashes=1, so that a harness
#                 keeps fuzzing after a crash and every reproducer is collected (still exit 1)
set -euo pipefail
cd "$(dirname "$0")/.."

keep_going=0
seconds=60
harnesses=()
for arg in "$@"; do
    case "$arg" in
    --keep-going) keep_going=1 ;;
    [0-9]*) seconds="$arg" ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) harnesses+=("$arg") ;;
    esac
done
all=(http_parser chunked_decoder beacon proxy_protocol url_fields redirect user_agent
    event_encoder config)
if ((${#harnesses[@]} == 0)); then harnesses=("${all[@]}"); fi

packages=(
    clang-14 libfuzzer-14-dev cmake ninja-build pkg-config
    liburing-dev librdkafka-dev libtomlplusplus-dev libfmt-dev libcli11-dev libreaderwriterqueue-dev
    libsimdjson-dev libsodium-dev libmaxminddb-dev libsystemd-dev libssl-dev
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    echo "fuzz: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== fuzz: building (cmake --preset fuzz)"
started=$SECONDS
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
test -x build/fuzz/fuzz/fuzz_http_parser || {
    echo "fuzz: the build failed" >&2
    exit 2
}
echo "fuzz: built in $((SECONDS - started))s"

work="${PIXELRING_FUZZ_DIR:-/tmp/pixelring-fuzz}"
mkdir -p "$work"

# The user-agent harness also starts from the real User-Agents in ../shared/testdata when the
# checkout has them (read there, never copied into the repository).
ua_seeds="$work/user_agent/testdata-seeds"
if [ -d ../shared/testdata/ua ] && [ ! -d "$ua_seeds" ]; then
    mkdir -p "$ua_seeds"
    sed -n 's/^ *"\(.*\)",\{0,1\} *$/\1/p' ../shared/testdata/ua/browsers.json \
        ../shared/testdata/ua/bots.json | sed 's/\\"/"/g; s/\\\//\//g; s/\\\\/\\/g' |
        awk -v dir="$ua_seeds" '{ f = sprintf("%s/ua-%04d", dir, NR); printf "%s", $0 > f
                                  close(f) }'
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
summary=()
for h in "${harnesses[@]}"; do
    bin="build/fuzz/fuzz/fuzz_$h"
    [ -x "$bin" ] || {
        echo "fuzz: no harness $h (known: ${all[*]})" >&2
        exit 2
    }
    dir="$work/$h"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    log="$dir/last-run.log"
    marker="$dir/.started"
    touch "$marker"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
    case "$h" in
    redirect) args+=(-max_len=12288) ;; # past max_redirect_target once escaped
    config) args+=(-max_len=8192) ;;    # the default configuration file is 4 KiB
    esac
    [ -f "fuzz/$h.dict" ] && args+=(-dict="fuzz/$h.dict")
    ((keep_going)) && args+=(-fork=1 -ignore_crashes=1)
    seeds=("$dir/corpus" "fuzz/corpus/$h")
    [ -d "fuzz/regressions/$h" ] && seeds+=("fuzz/regressions/$h")
    [ "$h" = user_agent ] && [ -d "$ua_seeds" ] && seeds+=("$ua_seeds")

    echo "== fuzz: $h for ${seconds}s"
    rc=0
    "$bin" "${args[@]}" "${seeds[@]}" >"$log" 2>&1 || rc=$?

    # libFuzzer's final statistics: the DONE line (or, after a crash or in fork mode, the last
    # status line) and the executions.
    last=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED|cov:)' "$log" |
        tail -n1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9/a-zA-Z]*\).*/\1/p' <<<"$last")
    found=$(find "$dir/artifacts" -newer "$marker" -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
    written=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | grep -v '/slow-unit-' || true)
    reproducers=$(printf '%s\n%s\n' "$found" "$written" | grep -v '^$' | sort -u || true)
    count=$(grep -c . <<<"$reproducers" || true)
    summary+=("$(printf '%-16s %10s execs  cov %-6s ft %-7s corpus %-12s findings %s' \
        "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$count")")
    if ((rc != 0 || count > 0)); then
        failed+=("$h")
        echo "fuzz: $h FAILED (libFuzzer exit $rc); its output: $log" >&2
        { grep -E 'ERROR: |fuzz check failed|runtime error|SUMMARY: ' "$log" || true; } |
            head -n 6 | sed 's/^/    /' >&2
        while read -r r; do
            [ -n "$r" ] || continue
            echo "    reproducer: $r" >&2
            echo "    replay:     $bin $r" >&2
        done <<<"$reproducers"
    fi
done

echo "== fuzz: summary (${seconds}s per harness, $((SECONDS - started))s with the build; new" \
    "corpus entries in $work/<harness>/corpus)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: failures in ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no findings"
