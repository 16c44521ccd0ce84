"""`binguard demo --gateway`: N unmodified ccxt bots on one IP, directly and then through the gateway.

    binguard demo --gateway [--bots 4] [--seconds 20] [--faults chaos] [--seed 7] [--json]

Each run starts a fresh simulator with the chaos plan (binguard.demo.chaos: resets, stalls, 5XX
and HTML 502s, a forced ban half-way; or --faults calm or a plan file) and a weight limit the
bots overrun when they poll directly; the bots (bots.py: freqtrade's calls through ccxt) trade
for --seconds, then settle with the faults off. The first run points them at the simulator, the
second at a `binguard gateway` in front of it; the verdict puts both side by side (verdict.py).
Exit status 0 when the gateway run is clean, 1 when not, 2 for bad arguments or an unusable plan
file; 1 with one line when ccxt is missing (`make demo` installs it: the `demo` extra).
"""

from __future__ import annotations

import asyncio
import json
import sys

import yaml
from rich.console import Console

from ..chaos import Scenario, scenario
from .bots import ccxt_module
from .phase import run_phase
from .verdict import Facts, table

DEFAULT_SECONDS = 20.0  # per run: two runs and their settling take about a minute
DEFAULT_BOTS = 4


async def both(
    chosen: Scenario, bots: int, seconds: float, console: Console | None
) -> tuple[Facts, Facts]:
    """The direct run, then the gateway run."""
    runs = []
    for through in (False, True):
        if console is not None:
            where = "through binguard gateway" if through else "directly at the exchange"
            console.print(f"{bots} ccxt bots, {seconds:.0f} s, faults {chosen.name}, {where}…")
        runs.append(await run_phase(chosen, bots, seconds, through_gateway=through))
    return runs[0], runs[1]


def summary(direct: Facts, gateway: Facts) -> list[str]:
    """The verdict in words, under the table."""
    word = "[green]clean[/]" if gateway.clean else "[red]NOT clean[/]"
    return [
        f"directly: {direct.upstream_429} × 429 and {direct.bans_earned} ban(s) earned, "
        f"{direct.requests_during_ban} requests sent while banned.",
        f"through the gateway: {word}; it answered {gateway.limited_calls} calls itself with "
        f"429/418 and sent {gateway.upstream_weight} of {gateway.demand} weight upstream.",
        "(clean: 0 × 429, 0 bans earned, 0 requests in a ban, 0 orders lost or duplicated)",
    ]


def run(bots: int, seconds: float | None, faults: str, seed: int, as_json: bool) -> int:
    """The demo; the exit status (module docstring)."""
    try:
        ccxt_module()
    except ImportError:
        print(
            "binguard demo --gateway needs ccxt: pip install 'binguard[demo]' "
            "(make demo installs it)",
            file=sys.stderr,
        )
        return 1
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    try:
        chosen = scenario(faults, seed, seconds)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"binguard demo: --faults {faults}: {first}", file=sys.stderr)
        return 2
    console = None if as_json else Console(width=min(80, Console().width))
    try:
        direct, gateway = asyncio.run(both(chosen, bots, seconds, console))
    except OSError as exc:
        print(f"binguard demo --gateway: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"direct": direct.as_dict(), "gateway": gateway.as_dict()}))
    else:
        assert console is not None
        console.print(table(direct, gateway))
        for line in summary(direct, gateway):
            console.print(line, highlight=False)
    return 0 if gateway.clean else 1
