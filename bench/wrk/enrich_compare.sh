#!/usr/bin/env bash
# enrich_compare.sh: the server CPU that enrichment costs per pixel hit (target: at most 1 µs),
# with every enrichment on (GeoIP City + ASN, agent labels, visitor id, DNT) against
# tracking.enrich=false, measured in one run of this script.
#
#   bench/wrk/enrich_compare.sh [--rounds N] [--duration S] [--warmup S] [--scenario keepalive]
#                               [--bin PATH] [--out DIR]
#
# Runs bench/load/run.sh --servers pixelring-file (one round, one scenario) 2 x N times, alternating on, off,
# on, off, ... (even rounds start with off, so drift hits both alike). Both servers get the
# same configuration but tracking.enrich: the GeoIP test databases from ../shared/testdata/geoip,
# server.trusted_proxies=127.0.0.1/32 and every request carries X-Forwarded-For: 89.160.20.112,
# an address both databases know, so GeoIP finds a city and an AS as it would for a real
# client (the loopback address would be a short miss). Prints every run's µs/request, each
# round's on - off difference, and the medians. Exit status: run.sh's first failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

rounds=2
duration=10
warmup=2
scenario=keepalive
bin=$repo/build/release/tools/pixelring
out=""
geoip_dir=$(cd "$repo/.." && pwd)/shared/testdata/geoip
client=89.160.20.112

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "enrich_compare: $*" >&2; exit 1; }

while (($#)); do
    opt=$1
    val=""
    case $opt in
        -h|--help) usage; exit 0 ;;
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        --*) (($# >= 2)) || die "$opt needs a value"; val=$2; shift ;;
        *) die "unknown argument: $opt (see --help)" ;;
    esac
    shift
    case $opt in
        --rounds) rounds=$val ;;
        --duration) duration=$val ;;
        --warmup) warmup=$val ;;
        --scenario) scenario=$val ;;
        --bin) bin=$val ;;
        --out) out=$val ;;
        *) die "unknown option: $opt (see --help)" ;;
    esac
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((10#$rounds < 1)); then die "--rounds: a number >= 1"; fi
rounds=$((10#$rounds))
for f in GeoIP2-City-Test.mmdb GeoLite2-ASN-Test.mmdb; do
    [[ -f $geoip_dir/$f ]] || die "missing $geoip_dir/$f"
done
[[ -z $out ]] && out=$(mktemp -d "${TMPDIR:-/tmp}/enrich_compare.XXXXXX")
mkdir -p "$out"
out=$(cd "$out" && pwd)

common=(--servers pixelring-file --rounds 1 --duration "$duration" --warmup "$warmup" --scenarios "$scenario" --bin "$bin"
    --set "geoip.city_db=$geoip_dir/GeoIP2-City-Test.mmdb"
    --set "geoip.asn_db=$geoip_dir/GeoLite2-ASN-Test.mmdb"
    --set server.trusted_proxies=127.0.0.1/32 --header "X-Forwarded-For: $client")

summary=$out/summary.tsv
printf 'round\tenrich\tus_per_req\treq_per_s\tcpu0_other_pct\n' >"$summary"
echo "enrich_compare: $rounds round(s) of $scenario, on/off alternating, ${duration}s each; out $out"
for ((r = 1; r <= rounds; r++)); do
    order=(true false)
    ((r % 2 == 0)) && order=(false true)
    for enrich in "${order[@]}"; do
        dir=$out/r$r-enrich-$enrich
        rc=0
        "$repo/bench/load/run.sh" "${common[@]}" --set "tracking.enrich=$enrich" --out "$dir" \
            >"$dir.log" 2>&1 || rc=$?
        if ((rc != 0)); then
            cat "$dir.log" >&2
            die "bench/load/run.sh (round $r, tracking.enrich=$enrich) exited $rc"
        fi
        # runs.tsv: requests/s in column 5, µs/req in 9, CPU 0 other % in 11
        awk -F'\t' -v r="$r" -v e="$enrich" 'NR == 2 {printf "%s\t%s\t%s\t%s\t%s\n", r, e, $9, $5, $11}' \
            "$dir/runs.tsv" >>"$summary"
        tail -1 "$summary" | awk -F'\t' '{printf "round %s enrich=%-5s %7.3f us/req server CPU  %9.0f req/s  CPU 0 other %s%%\n", $1, $2, $3, $4, $5}'
    done
done

awk -F'\t' '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR > 1 { if ($2 == "true") on[$1] = $3; else off[$1] = $3 }
    END {
        for (r in on) { n++; a[n] = on[r]; b[n] = off[r]; d[n] = on[r] - off[r]
            printf "round %s: on - off = %+.3f us/req\n", r, on[r] - off[r] }
        printf "median over %d rounds: on %.3f, off %.3f, on - off %+.3f us/req (median of the per-round differences)\n",
            n, med(a, n), med(b, n), med(d, n)
    }' "$summary"
echo "enrich_compare: per run: $summary; run.sh outputs in $out/r*-enrich-*"
