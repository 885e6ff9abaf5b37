#!/usr/bin/env python3
"""Checks that every #include "..." in the collector's sources stays inside what its folder may
include: the folder itself and the folders listed for it below, which are the "May include"
sentences of each folder's CMakeLists.txt header comment. A lower folder never includes a higher
one, so the targets have no cycles. Exits 1 and names file:line for every include out of bounds.
Usage: scripts/check-layering.py (from anywhere in the repository)."""
import os
import re
import subprocess
import sys

CORE = ["core", "core/base", "core/http", "core/config", "core/event", "core/enrich", "core/policy"]
ALLOWED = {
    "core/base": [],
    "core": ["core/base"],
    "core/http": ["core/base"],
    "core/config": ["core/base"],
    "core/event": ["core/base", "core/http"],
    "core/enrich": ["core/base", "core/http", "core/event", "core/config"],
    "core/policy": ["core/base", "core/http", "core/event"],
    "tls": ["core", "core/base", "core/config"],
    # the dashboard reads the encoder's layout of an event, nothing else of core/event
    "dashboard": ["core/base", "core/event/event_layout.hh"],
    "systemd": [],
    "net": ["core", "core/base", "core/http", "core/config"],
    "net/uring": [],
    "net/http": CORE,
    "net/worker": CORE + ["net", "net/uring", "net/http", "tls"],
    "sinks": ["core", "core/base"],
    "sinks/file": ["sinks", "core", "core/base", "core/config"],
    "sinks/kafka": ["sinks", "core", "core/base", "core/config", "core/event"],
    "app": CORE + ["net", "net/uring", "net/http", "net/worker", "tls", "sinks", "sinks/file",
                   "sinks/kafka", "dashboard", "systemd"],
    "tools": ["app"],
}


def main():
    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
    os.chdir(root)
    files = subprocess.check_output(["git", "ls-files", "--", *[f + "/*" for f in ALLOWED]],
                                    text=True).split()
    bad = 0
    for path in files:
        if not path.endswith((".cc", ".hh", ".in")):
            continue
        folder = os.path.dirname(path)
        if folder not in ALLOWED:
            print(f"{path}: folder {folder}/ is not in scripts/check-layering.py's table")
            bad += 1
            continue
        allowed = ALLOWED[folder]
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                inc = m.group(1)
                inc_folder = os.path.dirname(inc)
                if inc_folder == folder or inc in allowed or inc_folder in allowed:
                    continue
                print(f"{path}:{n}: includes {inc}, but {folder}/ may include only "
                      f"{', '.join(a + ('' if a.endswith('.hh') else '/') for a in allowed) or 'itself'}")
                bad += 1
    if bad:
        print(f"{bad} include(s) out of bounds", file=sys.stderr)
        return 1
    print(f"layering: {len(files)} files, every include within bounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
