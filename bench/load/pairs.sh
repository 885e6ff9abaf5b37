#!/usr/bin/env bash
# pairs.sh: one change measured against its absence in alternating pairs of bench/load/run.sh
# runs, for effects smaller than what separates two runs of one binary on a noisy machine.
#
#   bench/load/pairs.sh --a 'RUN.SH ARGS' --b 'RUN.SH ARGS' [--pairs N] [--scenario S]
#                       [--duration S] [--server pixelring-file|pixelring-kafka] [--out DIR]
#
# --a and --b are run.sh arguments of each side, word-split (no quoting inside), e.g.
#   --a '--bin build/release/tools/pixelring --set admin.dashboard=false'
#   --b '--bin build/release/tools/pixelring --set admin.dashboard=true'
# or two builds: --a '--bin OLD/tools/pixelring' --b '--bin NEW/tools/pixelring'.
# Each pair is one run of each side (run.sh --rounds 1 --servers SERVER --scenarios S
# --duration S: default 12 pairs, pipelined, 10 s, pixelring-file), in the order a b for odd
# pairs and b a for even ones, so that a drift of the machine weighs on both sides alike. Run i
# of side a goes to DIR/i-a (its runs.tsv, logs, results.md). At the end, and with
# --summary-only for a DIR already measured, bench/load/pairs_summary.py prints per column of
# runs.tsv (server CPU per request and its split by thread) the medians of each side and the
# paired differences b - a: their median, the Hodges-Lehmann estimate and bootstrap 95 %
# intervals. A run that fails (run.sh's exit status other than 0) stops the script: its pair
# would be missing. Each run is bounded by timeout (5 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a="" b="" pairs=12 scenario=pipelined duration=10 server=pixelring-file out="" summary_only=0
while (($#)); do
    case $1 in
        --a) a=$2; shift 2 ;;
        --b) b=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --scenario) scenario=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --server) server=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --summary-only) summary_only=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "pairs.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
    esac
done
[[ -n $out ]] || out=$(mktemp -d /tmp/pairs.XXXXXX)
if ((!summary_only)); then
    [[ -n $a && -n $b ]] || { echo "pairs.sh: --a and --b are both needed (see --help)" >&2; exit 1; }
    [[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "pairs.sh: --pairs $pairs: a whole number from 1" >&2; exit 1; }
    mkdir -p "$out"
    printf 'a: %s\nb: %s\n%s pairs of %s x %s, %s s\n' "$a" "$b" "$pairs" "$server" "$scenario" \
        "$duration" >"$out/sides.txt"
    for ((i = 1; i <= pairs; i++)); do
        order="a b"
        ((i % 2)) || order="b a"
        for side in $order; do
            if [[ $side == a ]]; then read -ra args <<<"$a"; else read -ra args <<<"$b"; fi
            rc=0
            timeout 300 "$here/run.sh" --servers "$server" --scenarios "$scenario" --rounds 1 \
                --duration "$duration" "${args[@]}" --out "$out/$i-$side" >"$out/$i-$side.log" 2>&1 ||
                rc=$?
            echo "pairs.sh: pair $i side $side: exit $rc ($(tail -n 1 "$out/$i-$side.log" | cut -c1-100))"
            ((rc == 0)) || { echo "pairs.sh: run $i-$side failed, see $out/$i-$side.log" >&2; exit 1; }
        done
    done
fi
python3 "$here/pairs_summary.py" "$out"
