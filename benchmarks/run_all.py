"""Run every benchmark whose numbers are recorded in ``benchmarks/RESULTS.md``, one after the other.

Each benchmark runs in its own process (clean memory figures, one crash does not stop the others)
and prints its own table; this runner adds the wall time of each and a summary of which ones
failed. The numbers are not written into RESULTS.md automatically: copy them there with the
command, the machine and the date. Needs ``../shared/data``. Takes about an hour on a 2-core CPU.

    .venv/bin/python -m benchmarks.run_all                 # everything (make bench)
    .venv/bin/python -m benchmarks.run_all --only seg_     # the benchmarks whose name starts so
    .venv/bin/python -m benchmarks.run_all --list
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from jadis.paths import ROOT

#: (module, arguments) in a sensible order: cheap and independent first, the long runs last.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("geocode_parse", []),
    ("geocode_accuracy", []),
    ("geocode_throughput", []),
    ("geocode_real_lists", []),
    ("geocode_map_gazetteer", []),
    ("georef_roundtrip", []),
    ("georef_interop", []),
    ("georef_jacoubet", []),
    ("georef_auto", ["--table"]),
    ("georef_warp", []),
    ("seg_pq_crosscheck", []),
    ("seg_accuracy", []),
    ("seg_vectorize", []),
    ("seg_speed", []),
    ("app_viewer", []),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], help="run the benchmarks whose name starts so")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    chosen = [(m, a) for m, a in BENCHMARKS if not args.only or any(m.startswith(p) for p in args.only)]
    if args.list or not chosen:
        for module, extra in BENCHMARKS:
            print(f"python -m benchmarks.{module} {' '.join(extra)}".rstrip())
        return 0 if args.list else 2
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    failed: list[str] = []
    times: list[tuple[str, float]] = []
    for module, extra in chosen:
        cmd = [sys.executable, "-m", f"benchmarks.{module}", *extra]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        times.append((module, time.perf_counter() - t0))
        if rc != 0:
            failed.append(f"{module} (exit {rc})")
    print("\n=== summary")
    for module, seconds in times:
        print(f"{module:24s} {seconds:8.1f} s")
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
