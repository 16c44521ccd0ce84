"""What each part of `place_order()` costs over `call()` for the same order: a diagnostic, not a
goal (`python -m bench.order_parts`; `make bench` does not run it).

A profile does not answer this: between two network round trips every step runs with cold
caches and costs several times its tight-loop time, so a part's cost is what the whole order
saves when the part is replaced by a no-op. Each variant's rounds are interleaved with `call()`
rounds in one process (bench_connector.py's clients, simulator in its own process), best round
of each. The no-op variants are measurement only: they break what they replace.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from typing import Any

from binguard.connector import journal, ledger, models, orders

from . import bench_connector as connector
from ._common import SimProcess

ROUNDS = 12
N = 400
Patch = dict[str, Any]


def _variants(cached: models.Order) -> dict[str, Patch]:
    def no_rows(later: list[journal.Deferred]) -> list[tuple[str, list[Any]]]:
        return [(s, r) for s, r in _ORIGINAL["runs"](later) if s != journal._INSERT_ROW]

    def nothing(*_: Any, **__: Any) -> None:
        return None

    def same_order(*_: Any) -> models.Order:
        return cached

    return {
        "place_order() as it is": {},
        "no journal at all": {"intent_sent": nothing, "acked": nothing},
        "no SQLite row (the intent log kept)": {"runs": no_rows},
        "no local check": {"check": nothing},
        "no typed Order (one built once)": {"from_placement": same_order},
        "no tracker": {"placed": nothing},
        "no SQLite row, no typed Order, no check": {
            "runs": no_rows,
            "from_placement": same_order,
            "check": nothing,
        },
    }


_ORIGINAL: dict[str, Any] = {
    "check": orders.check_order,
    "intent_sent": ledger.OrderLedger.intent_sent,
    "acked": ledger.OrderLedger.acked,
    "placed": ledger.OrderLedger.placed,
    "from_placement": models.Order.__dict__["from_placement"],
    "runs": journal._runs,
}


def _apply(patch: Patch) -> None:
    """Put `patch`'s replacements in place, the originals everywhere else."""
    parts = {**_ORIGINAL, **patch}
    orders.check_order = parts["check"]  # type: ignore[assignment]
    ledger.OrderLedger.intent_sent = parts["intent_sent"]  # type: ignore[method-assign]
    ledger.OrderLedger.acked = parts["acked"]  # type: ignore[method-assign]
    ledger.OrderLedger.placed = parts["placed"]  # type: ignore[method-assign]
    journal._runs = parts["runs"]  # type: ignore[assignment]
    replaced = parts["from_placement"]
    if replaced is not _ORIGINAL["from_placement"]:
        replaced = staticmethod(replaced)
    models.Order.from_placement = replaced  # type: ignore[method-assign]


async def _main(sim: SimProcess, path: str) -> None:
    clients, close, commit = await connector._order_clients(sim, path)
    place, call, _ = clients.values()
    try:
        for _ in range(connector.WARMUP):
            await place()
            await call()
        commit()
        variants = _variants(await place())
        results: dict[str, list[float]] = {name: [] for name in variants}
        calls: list[float] = []
        for _ in range(ROUNDS):
            calls.append((await connector._cpu_round(call, N))[0])
            for name, patch in variants.items():
                _apply(patch)
                results[name].append((await connector._cpu_round(place, N, commit))[0])
            _apply({})
    finally:
        _apply({})
        await close()
    base = min(calls)
    print(f"   call() {base:.1f} µs CPU/order (best of {ROUNDS} rounds of {N})")
    whole = min(results["place_order() as it is"])
    for name, rounds in results.items():
        best = min(rounds)
        print(f"   {name:42s} {best:6.1f} µs  {best / base:.2f}x call()  ({whole - best:+.1f})")


def run(report: Callable[[str], None] = print) -> None:
    report("place_order() parts: CPU per order with each part replaced by a no-op")
    with tempfile.TemporaryDirectory() as tmp, SimProcess(connector._cpu_config()) as sim:
        asyncio.run(_main(sim, os.path.join(tmp, "orders.db")))


if __name__ == "__main__":
    run()
