"""The demo under its default chaos plan, N seeds in a row: every run's verdict clean.

Each seed is one `binguard demo --faults chaos --seed S --seconds T --json` process (the command a
user runs, with brackets, stops and edits under execution-unknown faults on all of them); two run
at a time (each is mostly waiting on its simulator's clock). A run is clean when its verdict is
(nothing lost or duplicated per order, list and edit; no ban earned, nothing sent during a ban;
no -1021 after the first sync; no unhandled exception; the book and the fills match) and it
exits 0.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from ._common import Clock, PartResult

PARALLEL = 2


@dataclass(frozen=True, slots=True)
class DemoSpec:
    seeds: int
    seconds: int
    first_seed: int


def run(spec: DemoSpec) -> PartResult:
    result = PartResult("demo-seeds")
    runs = asyncio.run(_all(spec, result))
    failed = [seed for seed, report in runs if not (report and report.get("ok"))]
    result.figures["seeds"] = f"{spec.first_seed}..{spec.first_seed + spec.seeds - 1}"
    result.figures["lists placed"] = str(sum(_count(r, "lists_placed") for _, r in runs))
    result.figures["edits made"] = str(sum(_count(r, "edits_made") for _, r in runs))
    result.figures["orders on the exchange"] = str(
        sum(_count(r, "orders_on_exchange") for _, r in runs)
    )
    if failed:
        result.figures["failed seeds"] = " ".join(map(str, failed))
    result.zero("seeds not clean", len(failed))
    return result


def _count(report: dict[str, Any] | None, key: str) -> int:
    value = (report or {}).get(key, 0)
    return value if isinstance(value, int) else 0


async def _all(spec: DemoSpec, result: PartResult) -> list[tuple[int, dict[str, Any] | None]]:
    gate = asyncio.Semaphore(PARALLEL)
    clock = Clock()

    async def one(seed: int) -> tuple[int, dict[str, Any] | None]:
        async with gate:
            report = await _demo(seed, spec.seconds)
        done.append(bool(report and report.get("ok")))
        result.series.add(clock(), clean_runs=float(sum(done)), runs=float(len(done)))
        return seed, report

    done: list[bool] = []

    seeds = range(spec.first_seed, spec.first_seed + spec.seeds)
    return list(await asyncio.gather(*(one(s) for s in seeds)))


async def _demo(seed: int, seconds: int) -> dict[str, Any] | None:
    """One run's JSON verdict (its last stdout line), or None if it did not exit 0 with one."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "binguard", "demo", "--faults", "chaos", "--seed", str(seed),
        "--seconds", str(seconds), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    lines = out.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"   demo seed {seed}: exit {proc.returncode}", flush=True)
        return None
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except ValueError:
        return None
    return report
