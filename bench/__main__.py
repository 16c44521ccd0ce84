"""Run the benchmarks: all of bench/bench_*.py, or those named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from bench._goals import failed


def main(names: list[str]) -> int:
    modules = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    chosen = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").run()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    missed = failed()
    if missed:
        print(f"\n{len(missed)} goal(s) FAILED: {', '.join(missed)}", flush=True)
        return 1
    print("\nevery goal PASSED", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
