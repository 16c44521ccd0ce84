"""`binguard doctor FILE...`: the command line around binguard.doctor.doctor().

Exit status (bits): 0 nothing found, every input read; 1 Binance errors found; 4 an input could
not be read (named on stderr, the others are still read); 5 both; 2 usage error or the --html file
could not be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ._html import render_html
from ._inputs import Source, expand
from ._report import ChunkCallback, Report, explain, scan
from ._scan import Scanner
from ._terminal import render

HELP: Final = "find and explain every Binance error in bot logs"
PROGRESS_MIN_BYTES: Final = 32 << 20  # smaller inputs finish before a bar would be useful
EXIT_OUTPUT_FAILED: Final = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="log files, directories (read recursively), .gz files, or - for standard input",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument(
        "--no-progress", action="store_true", help="never show the progress bar on stderr"
    )


def run(args: argparse.Namespace) -> int:
    sources = expand(args.files)
    scanner = Scanner()
    with _progress(sources, enabled=not args.no_progress) as on_progress:
        inputs = scan(sources, scanner, on_progress=on_progress)
    report = explain(scanner, inputs)
    err = Console(stderr=True, highlight=False)
    for i in report.failed_inputs:
        err.print(f"binguard doctor: cannot read {i.path}: {i.error}", markup=False)
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        render(report, Console(highlight=False))
    if args.html:
        try:
            with open(args.html, "w", encoding="utf-8") as fh:
                fh.write(render_html(report))
        except OSError as exc:
            err.print(f"binguard doctor: cannot write {args.html}: {exc.strerror}", markup=False)
            return EXIT_OUTPUT_FAILED
    return report.exit_status()


@contextmanager
def _progress(sources: Sequence[Source], *, enabled: bool) -> Iterator[ChunkCallback | None]:
    """A rich progress bar on stderr, only when stderr is a terminal and the input is large."""
    sizes = [s.size() for s in sources]
    total = sum(s or 0 for s in sizes)
    large = total >= PROGRESS_MIN_BYTES or any(s.is_stdin for s in sources)
    if not (enabled and large and sys.stderr.isatty()):
        yield None
        return
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]doctor[/bold] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total or None)
        done_before: dict[str, int] = {}

        def advance(src: Source, position: int) -> None:
            done_before[src.name] = position
            bar.update(task, completed=sum(done_before.values()), description=src.name[-40:])

        yield advance


def print_report(report: Report, console: Console) -> None:
    """The terminal rendering, for callers of the in-process API."""
    render(report, console)
