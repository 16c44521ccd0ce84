"""`binguard demo` / `make demo`: a market maker runs through the chaos simulator, then a verdict.

    binguard demo [--seconds 60] [--faults chaos|calm|PLAN.yaml] [--seed N] [--json]
    binguard demo --gateway [--bots 4] [--seconds 20] [--faults ...] [--seed N] [--json]

An embedded simulator (binguard.sim) plays Binance with a fault plan; the connector trades
through it for --seconds while a live dashboard shows requests/s, weight used vs the limit, the
clock offset, errors in three groups (from the exchange, refused locally, expected lookups),
reconciliations, sockets and the ban state. Trading stops on time (a call still running is cut
after a short grace; recover() settles its order); then the demo settles (recover(), cancel what
is open, check the book and the fills) and compares the connector's journal with the
simulator's ground truth. The verdict opens with the story of the run; settling is timed
separately. Exit status 0 only when nothing was lost or duplicated, no ban was earned, nothing
was sent during a ban, no -1021 came after the first clock sync and no exception escaped
unhandled; 2 for bad arguments or an unusable plan file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

import yaml
from rich.console import Console

from .chaos import Scenario, scenario
from .report import Report, print_report
from .run import demo

__all__ = ["Report", "Scenario", "add_arguments", "demo", "run", "scenario"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"--seconds must be between 1 and 86400, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=_seconds, default=None, help="how long to trade (60; --gateway: 20 a run)"
    )
    parser.add_argument(
        "--faults",
        default="chaos",
        help="chaos (default), calm, or a fault plan file (YAML/JSON; see examples/faults/)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=7,
        help="seed of the simulator (and its demo keys) and of the faults (7)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="N ccxt bots on one IP, directly and then through binguard gateway",
    )
    parser.add_argument("--bots", type=_bots, default=4, help="--gateway: how many bots (4)")


def _bots(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 32:
        raise argparse.ArgumentTypeError(f"--bots must be a whole number from 1 to 32, not {text}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    if args.gateway:
        from .fleet import run as fleet

        return fleet(args.bots, args.seconds, args.faults, args.seed, args.json)
    args.seconds = 60.0 if args.seconds is None else args.seconds
    try:
        chosen = scenario(args.faults, args.seed, args.seconds)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"binguard demo: --faults {args.faults}: {first}", file=sys.stderr)
        return 2
    console = None if args.json else Console(width=min(80, Console().width))
    try:
        report = asyncio.run(demo(args.seconds, chosen, console))
    except OSError as exc:
        print(f"binguard demo: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        assert console is not None
        print_report(console, report)
    return 0 if report.verdict.ok else 1
