"""`python -m soak [--parts ...] [counts]`: run the soak, print the table, write the PNG report.

Exit status: 0 when every invariant of every part held, 1 when one did not, 2 on bad arguments
(one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import part_demo, part_fleet, part_gateway_kill9, part_hostile, part_kill9, part_orders
from ._common import PartResult
from .report import plot, table

PARTS = (
    "orders-rest",
    "orders-ws",
    "kill9",
    "kill9-mixed",
    "gateway-kill9",
    "fleet",
    "hostile",
    "demo-seeds",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, status 2 (argparse prints usage too)
        self.exit(2, f"soak: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = _Parser(prog="python -m soak", description=__doc__.splitlines()[0])
    p.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        metavar="PART",
        help=f"which parts to run (default: all of {', '.join(PARTS)})",
    )
    p.add_argument("--orders-rest", type=_positive, default=100_000)
    p.add_argument("--orders-ws", type=_positive, default=20_000)
    p.add_argument("--tasks", type=_positive, default=64, help="concurrent order tasks")
    p.add_argument(
        "--part-minutes",
        type=_positive,
        default=9,
        help="an orders part stops placing after this long, counts reached or not",
    )
    p.add_argument("--kills", type=_positive, default=50)
    p.add_argument("--kills-mixed", type=_positive, default=20, help="kills with lists and edits")
    p.add_argument("--gateway-kills", type=_positive, default=20, help="kills of a keys gateway")
    p.add_argument("--demo-seeds", type=_positive, default=20, help="demo runs, one seed each")
    p.add_argument("--demo-seconds", type=_positive, default=30, help="each demo run's trading")
    p.add_argument("--redis-restarts", type=_positive, default=3)
    p.add_argument("--hostile-http", type=_positive, default=20_000)
    p.add_argument("--hostile-classify", type=_positive, default=100_000)
    p.add_argument("--hostile-doctor", type=_positive, default=20)
    p.add_argument("--seed", type=int, default=20261205)
    p.add_argument("--out", type=Path, default=Path("soak-report.png"), help="the PNG report")
    return p.parse_args(argv)  # fmt: skip


def _runners(args: argparse.Namespace) -> dict[str, Callable[[], PartResult]]:
    minutes = args.part_minutes * 60.0

    def orders(via: str, count: int) -> Callable[[], PartResult]:
        spec = part_orders.OrdersSpec(via, count, args.tasks, minutes, args.seed)  # type: ignore[arg-type]
        return lambda: part_orders.run(spec)

    return {
        "orders-rest": orders("rest", args.orders_rest),
        "orders-ws": orders("ws", args.orders_ws),
        "kill9": lambda: part_kill9.run(part_kill9.KillSpec(args.kills, args.seed)),
        "kill9-mixed": lambda: part_kill9.run(
            part_kill9.KillSpec(args.kills_mixed, args.seed, "mixed")
        ),
        "gateway-kill9": lambda: part_gateway_kill9.run(
            part_gateway_kill9.GatewayKillSpec(args.gateway_kills, args.seed)
        ),
        "demo-seeds": lambda: part_demo.run(
            part_demo.DemoSpec(args.demo_seeds, args.demo_seconds, first_seed=1)
        ),
        "fleet": lambda: part_fleet.run(part_fleet.FleetSpec(args.redis_restarts, args.seed)),
    }


def _hostile(args: argparse.Namespace) -> list[PartResult]:
    return [
        part_hostile.run_http(args.seed, args.hostile_http),
        part_hostile.run_classify(args.seed, args.hostile_classify),
        part_hostile.run_doctor(args.seed, args.hostile_doctor),
    ]


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    runners = _runners(args)
    results: list[PartResult] = []
    for name in args.parts:
        print(f"-- {name} ...", flush=True)
        started = time.monotonic()
        done = _hostile(args) if name == "hostile" else [runners[name]()]
        if len(done) == 1:
            done[0].seconds = time.monotonic() - started
        results.extend(done)
        print(table(done), flush=True)
    print("\n" + table(results))
    png = plot(results, args.out)
    print(f"report: {png}" if png else "report: no PNG (pip install 'binguard[soak]')")
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
