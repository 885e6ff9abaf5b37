#!/usr/bin/env python3
"""Checks that the metric names the rules and the Grafana dashboard use exist.

  check_metric_names.py --sources REPO_ROOT
      every name must appear in the collector's C++ sources (core/ net/ sinks/ tls/ tools/),
      so that renaming a metric there fails this check without building anything;
  check_metric_names.py --metrics PAGE [PAGE...]
      every name must be a series on at least one of these /metrics pages (Prometheus text),
      as scraped from a running collector.

Names are the pixelring_* words of the rules file (expressions, and the annotations that name
series for an operator to look at) and of the dashboard's expressions and variable queries.
Recording rule names (pixelring:...) are not metrics and are not matched. With --sources it
also checks the dashboard's shape (schema version, data source variable, job and instance
variables, unique panel ids). Prints the names checked; exits 1 naming what is missing.
"""
import argparse
import json
import pathlib
import re
import sys

MONITORING = pathlib.Path(__file__).resolve().parent.parent
RULES = MONITORING / "prometheus" / "pixelring.rules.yml"
DASHBOARD = MONITORING / "grafana" / "pixelring.json"
NAME = re.compile(r"\bpixelring_[a-z0-9_]*[a-z0-9]")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def dashboard_queries(dash):
    """Every PromQL text of the dashboard: panel targets and query variables."""
    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))
    for p in panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                yield f"panel '{p.get('title')}'", t["expr"]
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            yield f"variable '{v['name']}'", q["query"] if isinstance(q, dict) else q


def used_names():
    used = {}
    for n in NAME.findall(RULES.read_text()):
        used.setdefault(n, set()).add(RULES.name)
    dash = json.loads(DASHBOARD.read_text())
    for where, text in dashboard_queries(dash):
        for n in NAME.findall(text):
            used.setdefault(n, set()).add(f"{DASHBOARD.name} {where}")
    return used, dash


def check_dashboard(dash):
    problems = []
    if not 36 <= dash.get("schemaVersion", 0) <= 41:
        problems.append(f"schemaVersion {dash.get('schemaVersion')} (expected about 39)")
    names = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    for want in ("datasource", "job", "instance"):
        if want not in names:
            problems.append(f"no template variable {want}")
    ids = []

    def walk(items):
        for p in items:
            ids.append(p.get("id"))
            if p.get("type") != "row":
                ds = p.get("datasource", {})
                if ds.get("uid") != "${datasource}":
                    problems.append(f"panel '{p.get('title')}' does not use ${{datasource}}")
                for t in p.get("targets", []):
                    if '$job' not in t.get("expr", "") or '$instance' not in t.get("expr", ""):
                        problems.append(f"panel '{p.get('title')}': {t.get('expr')} "
                                        "ignores $job or $instance")
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    if len(ids) != len(set(ids)):
        problems.append("panel ids are not unique")
    return problems


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--sources", metavar="REPO_ROOT")
    g.add_argument("--metrics", metavar="PAGE", nargs="+")
    args = ap.parse_args()

    used, dash = used_names()
    missing = []
    if args.sources:
        root = pathlib.Path(args.sources)
        text = "\n".join(f.read_text(errors="replace")
                         for d in ("core", "net", "sinks", "tls", "tools")
                         for f in sorted((root / d).rglob("*"))
                         if f.suffix in (".cc", ".hh", ".h", ".cpp"))
        def known(n):
            return re.search(re.escape(n) + r"(?![a-z0-9_])", text) is not None
        for n in sorted(used):
            base = next((n[:-len(s)] for s in HISTOGRAM_SUFFIXES if n.endswith(s)), None)
            if not known(n) and not (base and known(base)):
                missing.append(n)
        where = f"the sources under {root}"
        problems = check_dashboard(dash)
    else:
        series = set()
        for page in args.metrics:
            for line in pathlib.Path(page).read_text().splitlines():
                m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
                if m and not line.startswith("#"):
                    series.add(m.group(1))
        missing = sorted(n for n in used if n not in series)
        where = "the /metrics page(s) " + " ".join(args.metrics)
        problems = []

    print(f"{len(used)} metric names used by the rules and the dashboard: {' '.join(sorted(used))}")
    for n in missing:
        print(f"FAIL: {n} (used in {', '.join(sorted(used[n]))}) is not in {where}")
    for p in problems:
        print(f"FAIL: dashboard: {p}")
    if missing or problems:
        return 1
    print(f"ok: every one is in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
