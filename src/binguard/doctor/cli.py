"""`binguard doctor FILE...`: the command line around binguard.doctor.doctor().

Exit status (bits, so both facts survive; documented in --help and the README):

    0  no Binance error found, and every input was read
    1  Binance errors found
    2  usage error (bad arguments), or the --html file could not be written
    4  an input could not be read: missing, unreadable, not a regular file (FIFO, socket, device),
       binary, a corrupt gzip, an empty directory, or stdin idle longer than --read-timeout
    5  both 1 and 4

Each input that is not read gets one line on stderr (`binguard doctor: cannot read PATH: why`, or
`skipped PATH: why` for a FIFO or binary file found inside a directory); the others are still read.
rich is imported only to draw the terminal report or the progress bar: `--json` does not pay for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from ._inputs import IDLE_TIMEOUT, Source, expand
from ._report import EXIT_USAGE, ChunkCallback, Report, explain, scan
from ._scan import Scanner

if TYPE_CHECKING:
    from rich.console import Console

HELP: Final = "find and explain every Binance error in bot logs"
PROGRESS_MIN_BYTES: Final = 32 << 20  # smaller inputs finish before a bar would be useful
EXIT_OUTPUT_FAILED: Final = EXIT_USAGE
EPILOG: Final = """exit status (bits):
  0  no Binance error found, every input read
  1  Binance errors found
  2  usage error, or the --html file could not be written
  4  an input could not be read: missing, unreadable, a FIFO, socket or device,
     binary, a corrupt gzip, an empty directory, stdin idle past --read-timeout
  5  both 1 and 4"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
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
    parser.add_argument(
        "--read-timeout",
        type=_positive_seconds,
        default=IDLE_TIMEOUT,
        metavar="SECONDS",
        help=f"give up on standard input after this long without data (default {IDLE_TIMEOUT:g})",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds: {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    sources = expand(args.files)
    scanner = Scanner()
    with _progress(sources, enabled=not args.no_progress) as on_progress:
        inputs = scan(sources, scanner, on_progress=on_progress, idle_timeout=args.read_timeout)
    report = explain(scanner, inputs)
    _input_problems(report)
    if args.json:
        import orjson  # a dependency already; 10x faster than json on a large report

        sys.stdout.buffer.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
    else:
        print_report(report, _console())
    if args.html:
        from ._html import render_html

        try:
            with open(args.html, "w", encoding="utf-8") as fh:
                fh.write(render_html(report))
        except OSError as exc:
            print(f"binguard doctor: cannot write {args.html}: {exc.strerror}", file=sys.stderr)
            return EXIT_OUTPUT_FAILED
    return report.exit_status()


def _input_problems(report: Report) -> None:
    """One line on stderr for every input that was not read."""
    for i in report.inputs:
        if i.error is not None:
            print(f"binguard doctor: cannot read {i.path}: {i.error}", file=sys.stderr)
        elif i.skipped is not None:
            print(f"binguard doctor: skipped {i.path}: {i.skipped}", file=sys.stderr)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@contextmanager
def _progress(sources: Sequence[Source], *, enabled: bool) -> Iterator[ChunkCallback | None]:
    """A rich progress bar on stderr, only when stderr is a terminal and the input is large."""
    sizes = [s.size() for s in sources]
    total = sum(s or 0 for s in sizes)
    large = total >= PROGRESS_MIN_BYTES or any(s.is_stdin for s in sources)
    if not (enabled and large and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]doctor[/bold] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
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
    from ._terminal import render

    render(report, console)
