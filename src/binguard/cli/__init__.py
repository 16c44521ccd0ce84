"""The `binguard` command: one subcommand per part, each defined next to the code it drives.

A subcommand module exposes HELP (one line), add_arguments(parser) and run(args) -> exit status.
Modules are imported only when their subcommand runs, so `binguard explain` starts fast.
Bad arguments get one line on stderr (`binguard doctor: error: ...`) and exit status 2.
`binguard --version` prints the installed package's version (from its metadata).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, Protocol, cast

# name -> (module, one-line help). The help lives here so --help needs no imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("binguard.cli.explain", "explain a Binance error code or message"),
    "doctor": ("binguard.doctor.cli", "find and explain every Binance error in bot logs"),
    "sim": ("binguard.sim.cli", "run the local Binance Spot simulator with fault injection"),
    "demo": ("binguard.demo", "run a market maker through the chaos simulator"),
    "gateway": ("binguard.gateway.cli", "run a local endpoint that keeps any bot unbanned"),
}


class Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line answer to bad arguments (no usage block): status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def version() -> str:
    """The installed binguard's version, from the package metadata (pyproject.toml's)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("binguard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _load(name: str) -> Subcommand:
    return cast(Subcommand, importlib.import_module(COMMANDS[name][0]))


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _Parser(prog="binguard", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"binguard {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(p)
    args = parser.parse_args(args_list)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _load(args.command).run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`binguard explain --all | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
