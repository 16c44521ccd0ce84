"""What binguard knows about text that is not a Binance error code: one place for explain and doctor.

- The handler-crash line. `AttributeError: 'ConnectionError' object has no attribute 'code'` (from
  the seeds: Hummingbot's Binance connector) is not a network error: it is the bot's own exception
  handler reading `.code` from an exception that has none, so the failure it was handling is lost.
- Binance's HTTP statuses as its docs use them (rest-api.md, "HTTP Return Codes"): 403 the WAF, 409 a
  cancelReplace that partly succeeded, 418 an IP ban after 429s, 429 a rate limit, 5XX an unknown
  execution status; any other 4XX is a malformed request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

CRASH_PATTERN: Final = r"'(\w+)' object has no attribute '(?:code|error_code)'"
_CRASH: Final = re.compile(CRASH_PATTERN)


CRASH_NAME: Final = "HANDLER_CRASH"
CRASH_TITLE: Final = "The bot's own error handler crashed"
CRASH_MEANING: Final = (
    "The bot's own error handler crashed: it read `.code` from a network exception that has no "
    "such attribute (only Binance API errors carry a code), so the failure it was handling was "
    "lost and the loop or task around it died. This is a bug in the bot, not an error Binance "
    "sent."
)
CRASH_FIX: Final = (
    "Handle network exceptions (ConnectionError, TimeoutError, aiohttp/requests errors) before "
    "reading Binance's error code, or read it with getattr(exc, 'code', None). "
    "binguard.errors.classify(exc) accepts any exception and always has a `code` (None for "
    "network failures)."
)
CRASH_BINGUARD: Final = (
    "Every failure reaches your code as a typed BinanceError whose `code`, `family` and "
    "`recovery` always exist, so a handler cannot crash on a missing attribute."
)


@dataclass(frozen=True, slots=True)
class CrashHint:
    """The handler-crash line found: the exception class the handler choked on, and the words."""

    exception: str
    matched: str


def handler_crash(text: str) -> CrashHint | None:
    """The handler-crash hint when `text` holds "'XError' object has no attribute 'code'"."""
    m = _CRASH.search(text)
    if m is None:
        return None
    return CrashHint(exception=m.group(1), matched=m.group(0))


HTTP_DOC: Final = "rest-api.md, HTTP Return Codes"

# Binance's own sentence for each status, verbatim from rest-api.md "HTTP Return Codes".
_HTTP_TEXT: Final = {
    403: "HTTP `403` return code is used when a WAF (Web Application Firewall) rule has been "
    "violated. This can indicate a rate limit violation or a security block.",
    409: "HTTP `409` return code is used when a cancelReplace order partially succeeds. (i.e. if "
    "the cancellation of the order fails but the new order placement succeeds.)",
    418: "HTTP `418` return code is used when an IP has been auto-banned for continuing to send "
    "requests after receiving `429` codes.",
    429: "HTTP `429` return code is used when breaking a request rate limit.",
    500: "HTTP `5XX` return codes are used for internal errors; the issue is on Binance's side. It "
    "is important to **NOT** treat this as a failure operation; the execution status is "
    "**UNKNOWN** and could have been a success.",
    400: "HTTP `4XX` return codes are used for malformed requests; the issue is on the sender's "
    "side.",
}
# Binance codes that come with a status (errors.md / rest-api.md), for "see also".
_HTTP_CODES: Final = {409: (-2021,), 418: (-1003,), 429: (-1003, -1015)}


@dataclass(frozen=True, slots=True)
class HttpHint:
    """An HTTP status as Binance uses it."""

    status: int
    label: str  # as asked: "503", or "5XX" for the class
    meaning: str  # Binance's sentence, verbatim
    codes: tuple[int, ...]  # Binance codes that come with it


_HTTP_QUERY: Final = re.compile(r"\A\s*(?:HTTP\s*)?([45])(\d\d|XX)\s*\Z", re.IGNORECASE)


def http_status(query: str) -> HttpHint | None:
    """The hint for a query naming an HTTP status ('418', 'HTTP 429', '5XX', '503'), else None."""
    m = _HTTP_QUERY.match(query)
    if m is None:
        return None
    digit, rest = m.group(1), m.group(2).upper()
    status = int(digit + ("00" if rest == "XX" else rest))
    label = f"{digit}XX" if rest == "XX" else str(status)
    if status >= 500:
        return HttpHint(status, label, _HTTP_TEXT[500], ())
    text = _HTTP_TEXT.get(status, _HTTP_TEXT[400])
    return HttpHint(status, label, text, _HTTP_CODES.get(status, ()))
