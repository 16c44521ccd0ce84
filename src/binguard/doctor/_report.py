"""A whole doctor run: read every input, then group and diagnose. The in-process API.

    >>> from binguard.doctor import doctor
    >>> report = doctor(["bot.log", "logs/"])          # doctor -> Report
    >>> [(f.key.code, f.count) for f in report.findings]

Reading (scan) and explaining (findings, diagnoses) are separate steps so a benchmark can time the
scan alone, and a caller can feed its own Scanner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ._diagnose import diagnose
from ._findings import build_findings
from ._inputs import (
    IDLE_TIMEOUT,
    READ_ERRORS,
    BinaryInputError,
    InputError,
    Source,
    SpecialFileError,
    expand,
    open_source,
    read_error,
)
from ._model import Diagnosis, Evidence, Finding, InputReport, iso
from ._scan import Scanner

SCHEMA: Final = "binguard.doctor/1"

# Exit status of `binguard doctor` (bits, so both facts survive): 0 nothing found and every input
# read; 1 Binance errors found; 4 an input could not be read (missing, unreadable, not a regular
# file, binary, corrupt gzip, an empty directory, stdin idle too long); 5 both. 2 is a usage error.
EXIT_CLEAN: Final = 0
EXIT_FOUND: Final = 1
EXIT_USAGE: Final = 2
EXIT_INPUT_FAILED: Final = 4


@dataclass(slots=True)
class Report:
    """Everything the doctor found, ready to render."""

    inputs: list[InputReport]
    findings: list[Finding]
    diagnoses: list[Diagnosis]
    generated_at: float = field(default_factory=lambda: datetime.now(UTC).timestamp())

    @property
    def failed_inputs(self) -> list[InputReport]:
        return [i for i in self.inputs if i.error is not None]

    @property
    def skipped_inputs(self) -> list[InputReport]:
        return [i for i in self.inputs if i.skipped is not None]

    @property
    def read_inputs(self) -> list[InputReport]:
        return [i for i in self.inputs if i.error is None and i.skipped is None]

    @property
    def error_lines(self) -> int:
        return sum(f.count for f in self.findings)

    @property
    def first_seen(self) -> float | None:
        times = [f.first_seen for f in self.findings if f.first_seen is not None]
        return min(times) if times else None

    @property
    def last_seen(self) -> float | None:
        times = [f.last_seen for f in self.findings if f.last_seen is not None]
        return max(times) if times else None

    def exit_status(self) -> int:
        status = EXIT_FOUND if self.findings else EXIT_CLEAN
        return status | (EXIT_INPUT_FAILED if self.failed_inputs else 0)

    def as_dict(self) -> dict[str, Any]:
        """The `--json` document; see binguard.doctor's docstring for the shape."""
        return {
            "schema": SCHEMA,
            "generated_at": iso(self.generated_at),
            "summary": {
                "inputs": len(self.inputs),
                "failed_inputs": len(self.failed_inputs),
                "lines": sum(i.lines for i in self.inputs),
                "bytes": sum(i.bytes for i in self.inputs),
                "error_lines": self.error_lines,
                "findings": len(self.findings),
                "diagnoses": len(self.diagnoses),
                "first_seen": iso(self.first_seen),
                "last_seen": iso(self.last_seen),
            },
            "inputs": [i.as_dict() for i in self.inputs],
            "findings": [f.as_dict() for f in self.findings],
            "diagnoses": [d.as_dict() for d in self.diagnoses],
        }


ChunkCallback = Callable[[Source, int], None]


def scan(
    sources: Sequence[Source],
    scanner: Scanner,
    *,
    on_progress: ChunkCallback | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> list[InputReport]:
    """Read every source into `scanner`; a source that fails is reported, never raised.

    `on_progress(source, raw_bytes_read)` is called after each chunk (for the progress bar);
    `idle_timeout` bounds each wait for data on a piped or terminal stdin."""
    reports: list[InputReport] = []
    for index, src in enumerate(sources):
        rep = InputReport(src.name)
        reports.append(rep)
        if src.problem is not None:
            rep.error = src.problem
            continue
        kept = len(scanner.events)
        try:
            with open_source(src, idle_timeout=idle_timeout) as (stream, raw):
                callback = _chunk_callback(on_progress, src, raw)
                try:
                    scanner.scan(stream, rep, index, on_chunk=callback)
                except InputError:
                    raise
                except READ_ERRORS as exc:
                    raise read_error(src, exc) from None
        except (BinaryInputError, SpecialFileError) as exc:
            del scanner.events[kept:]
            if src.from_directory:
                rep.skipped = exc.reason
            else:
                rep.error = exc.reason
        except InputError as exc:
            rep.error = exc.reason  # lines read before a mid-file failure still count
    return reports


def _chunk_callback(
    on_progress: ChunkCallback | None, src: Source, raw: Any
) -> Callable[[], None] | None:
    if on_progress is None:
        return None
    report = on_progress

    def callback() -> None:
        report(src, _position(raw))

    return callback


def _position(raw: Any) -> int:
    try:
        return int(raw.tell())
    except (OSError, ValueError, AttributeError):
        return 0


def explain(scanner: Scanner, inputs: list[InputReport]) -> Report:
    """Group the scanned events into findings and run the diagnoses."""
    paths = [i.path for i in inputs]
    simulator = {
        source: Evidence(paths[source], line, time, text)
        for source, (line, time, text) in scanner.simulator.items()
    }
    findings = build_findings(scanner.events, paths, frozenset(simulator))
    return Report(inputs, findings, diagnose(scanner.events, inputs, simulator))


def doctor(paths: Sequence[str], *, on_progress: ChunkCallback | None = None) -> Report:
    """Scan files, directories (recursively), gzip files or '-' (stdin) and explain what they hold."""
    scanner = Scanner()
    inputs = scan(expand(paths), scanner, on_progress=on_progress)
    return explain(scanner, inputs)
