"""`binguard doctor`: read any bot's logs and explain every Binance error in them.

    binguard doctor bot.log logs/ old.log.gz        # terminal report
    journalctl -u bot | binguard doctor -           # stdin
    binguard doctor --json bot.log > report.json    # machine-readable
    binguard doctor --html report.html bot.log      # self-contained page with timeline charts

Reads logs of Hummingbot, python-binance, ccxt, freqtrade, the official SDKs (old connector and
modular SDK), binguard itself, raw JSON bodies, plain `code=-1021` text, bare `-1021` mentions and
HTTP statuses (`429 Too Many Requests`), plus the network failures around them. Lines that report
nothing are skipped silently; only regular files and `-` are read; an input that cannot be read
(missing, unreadable, a FIFO/socket/device, binary, corrupt gzip, an empty directory) is named on
stderr with its reason and the others are still read.

In-process API: `doctor(paths) -> Report`; `Report.as_dict()` is the `--json` document.

Exit status (bits): 0 = no Binance error found, every input read; 1 = errors found;
4 = at least one input could not be read; 5 = both; 2 = usage error (see cli.py).

`--json` document (schema "binguard.doctor/1"); times are ISO 8601 UTC strings or null:

    {
      "schema": "binguard.doctor/1",
      "generated_at": str,
      "summary": {"inputs", "failed_inputs", "lines", "bytes", "error_lines", "findings",
                  "diagnoses": int, "first_seen", "last_seen": str|null},
      "inputs": [{"path", "bytes", "lines", "error_lines", "first_time", "last_time",
                  "error": str|null (why it could not be read),
                  "skipped": str|null (binary file or FIFO found inside a directory)}],
      "findings": [{                      # one per error and family, most frequent first
          "code": int|null,               # Binance code; null for network failures/bare HTTP
          "name": str|null,               # INVALID_TIMESTAMP, CONNECTION_DROPPED, HTTP_503, ...;
                                          # null where Binance names no code (-2021, -2022)
          "title": str,                   # the name, or errors.md's heading for an unnamed code
          "family": str,                  # binguard.errors.Family value
          "count": int,                   # log lines reporting it
          "first_seen", "last_seen": str|null,
          "timeline": {hour_start_iso: int},           # per-hour line counts
          "messages": [{"text", "count"}],             # the recognised messages
          "values": {param: [{"value", "count"}]},     # banned_until, limit, interval, filter, param
          "http_statuses": {"400": int}, "endpoints": [{"endpoint", "count"}],
          "meaning", "fix", "family_summary", "recovery", "binguard": str,
          "causes": [str], "may_have_executed": bool,
          "examples": [evidence]}],
      "diagnoses": [{"id", "source" (the input it is about), "severity" ("critical"|"warning"|
                     "info"), "title", "summary", "fix", "evidence": [evidence],
                     "data": {...rule-specific figures...}}]
    }
    evidence = {"file": str, "line": int, "time": str|null, "text": str}

Diagnosis ids: handler_crash, ignored_rate_limit, unknown_status_as_failure, endpoint_not_served,
clock_ahead, clock_behind, polling, reset_burst. Each is drawn from ONE source (file or stdin):
see _diagnose for the rules and _clock for the per-episode drift estimate.
"""

from ._inputs import BinaryInputError, InputError, Source, expand
from ._model import Diagnosis, Event, Evidence, Finding, FindingKey, Hit, InputReport
from ._recognize import recognize
from ._report import (
    EXIT_CLEAN,
    EXIT_FOUND,
    EXIT_INPUT_FAILED,
    SCHEMA,
    Report,
    doctor,
    explain,
    scan,
)
from ._scan import Scanner

__all__ = [
    "EXIT_CLEAN",
    "EXIT_FOUND",
    "EXIT_INPUT_FAILED",
    "SCHEMA",
    "BinaryInputError",
    "Diagnosis",
    "Event",
    "Evidence",
    "Finding",
    "FindingKey",
    "Hit",
    "InputError",
    "InputReport",
    "Report",
    "Scanner",
    "Source",
    "doctor",
    "expand",
    "explain",
    "recognize",
    "scan",
]
