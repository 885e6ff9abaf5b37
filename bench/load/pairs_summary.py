#!/usr/bin/env python3
"""pairs_summary.py DIR...: the paired differences of bench/load/pairs.sh runs.

Reads DIR/<i>-a/runs.tsv and DIR/<i>-b/runs.tsv for every pair i (of several DIRs pooled) and
prints, per column of server CPU per request, the median of each side and the differences
b - a: one per pair, their median, the Hodges-Lehmann estimate (the median of the pairwise
means of the differences) and bootstrap 95 % intervals of both (resampling the pairs, seeded,
so the same runs give the same figures).
"""
import csv
import os
import random
import statistics
import sys

COLUMNS = ["us_per_req", "workers_us_per_req", "sink_us_per_req", "sink_user_us_per_req",
           "other_us_per_req"]


def read_pairs(dirs):
    pairs = []  # (pair label, {side: row})
    for d in dirs:
        sides = {}
        if not os.path.isdir(d):
            print(f"pairs_summary: {d}: not a directory", file=sys.stderr)
            continue
        for name in os.listdir(d):
            i, _, side = name.partition("-")
            path = os.path.join(d, name, "runs.tsv")
            if i.isdigit() and side in ("a", "b") and os.path.isfile(path):
                with open(path, newline="") as f:
                    rows = list(csv.DictReader(f, delimiter="\t"))
                if rows:
                    sides.setdefault(int(i), {})[side] = rows[0]
        pairs += [(f"{d}#{i}", s) for i, s in sorted(sides.items()) if len(s) == 2]
    return pairs


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def hodges_lehmann(x):
    return statistics.median([(x[i] + x[j]) / 2 for i in range(len(x)) for j in range(i, len(x))])


def interval(stat, x, rounds, rng):
    values = sorted(stat(rng.choices(x, k=len(x))) for _ in range(rounds))
    return values[int(rounds * 0.025)], values[int(rounds * 0.975) - 1]


def main(dirs):
    pairs = read_pairs(dirs)
    if not pairs:
        print("pairs_summary: no complete pair (DIR/<i>-a and DIR/<i>-b with a runs.tsv) in "
              + ", ".join(dirs), file=sys.stderr)
        return 1
    print(f"{len(pairs)} pairs; differences are b - a, in µs of CPU per request")
    for col in COLUMNS:
        # pairs whose runs.tsv has the column with a number (older ones may lack it, nginx has "-")
        have = [s for _, s in pairs if all(number(s[x].get(col)) is not None for x in "ab")]
        if not have:
            continue
        a = [number(s["a"][col]) for s in have]
        b = [number(s["b"][col]) for s in have]
        d = [y - x for x, y in zip(a, b)]
        rng = random.Random(1)
        lo, hi = interval(statistics.median, d, 10000, rng)
        hl_lo, hl_hi = interval(hodges_lehmann, d, 2000, rng)
        print(f"\n{col} ({len(have)} pairs): a median {statistics.median(a):.3f}, b median {statistics.median(b):.3f}")
        print("  differences: " + " ".join(f"{x:+.3f}" for x in d))
        print(f"  median {statistics.median(d):+.3f} (95 % {lo:+.3f} to {hi:+.3f}); "
              f"Hodges-Lehmann {hodges_lehmann(d):+.3f} (95 % {hl_lo:+.3f} to {hl_hi:+.3f}); "
              f"b above a in {sum(x > 0 for x in d)} of {len(d)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) > 1 else 1)
    sys.exit(main(sys.argv[1:]))
