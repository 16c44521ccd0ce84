"""Free text: log lines, exception messages, pasted errors. Slower than the body path and never on
a request's hot path (the doctor and foreign exceptions come here).

What is recognised, in order: a JSON body inside the text, a code as logs write it (`code=-1021`,
`[-1021 INVALID_TIMESTAMP]`, `(400, -1021, 'msg')`), an HTTP status, a bare Binance message, and
the network vocabulary of programs and their logs. Secrets in the text never reach the error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping

from ._bodies import from_mapping
from ._build import error_from, from_status
from ._catalog import CatalogEntry, Template, catalog, literal_opening, words_of
from ._exceptions import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    RequestTimeoutError,
    TransportError,
)
from ._params import redact_text

_JSON_WITH_CODE = re.compile(r'\{[^{}]*?"code"\s*:\s*-?\d+[^{}]*\}')
# A code as logs write it: `code=-1021`, `"code":-1021`, `APIError(code=-1021)`; binguard's own
# `[-1021 INVALID_TIMESTAMP] msg (HTTP 400, ...)`; the old official connector's `(400, -1021, 'msg')`.
# Separate patterns behind substring checks: an alternation without a literal opening would make
# the regex engine try every branch at every position of every line (the doctor's hot path).
_CODE_WORD = re.compile(r"code[\W_]{0,4}(-[12]\d{3})(?!\d)", re.IGNORECASE)
_CODE_BRACKET = re.compile(r"\[(-[12]\d{3})(?:\s+[A-Z][A-Z0-9_]*)?\]")
_CODE_TUPLE = re.compile(r"\(\s*([1-5]\d\d)\s*,\s*(-[12]\d{3})\s*,")


def _find_code(text: str) -> tuple[int, int | None, int] | None:
    """(code, HTTP status if the form carries one, end of the match) of the first code form."""
    m = _CODE_WORD.search(text)
    if m is not None:
        return int(m.group(1)), None, m.end()
    if "[-" in text:
        m = _CODE_BRACKET.search(text)
        if m is not None:
            return int(m.group(1)), None, m.end()
    if ", -" in text:
        m = _CODE_TUPLE.search(text)
        if m is not None:
            return int(m.group(2)), int(m.group(1)), m.end()
    return None


_BINGUARD_TAIL = re.compile(r"\s*\(HTTP \d{3}(?:, [^)]*)?\)\s*$")
_MSG_AFTER = re.compile(r"""\A[)\]'"]*\s*[:,]?\s*(?:msg|message)?\s*[=:]?\s*""", re.IGNORECASE)
_STATUS = re.compile(
    r"(?:HTTP(?:/\d(?:\.\d)?)?\s*(?:status\s*)?(?:is\s*|code\s*)?[=:]?\s*"
    r"|status(?:_code|\s*code)?\s*(?:is\s*)?[=:]?\s*)([1-5]\d\d)\b"
    r"|\b([45]\d\d)\s+(?:Bad Gateway|Service Unavailable|Gateway Time-?out|Too Many Requests"
    r"|I'm a teapot|Forbidden|Internal Server Error)",
    re.IGNORECASE,
)
# Transport failures as programs and their logs word them, most specific first.
_NETWORK: tuple[tuple[re.Pattern[str], type[TransportError]], ...] = (
    (
        re.compile(
            r"ECONNREFUSED|Connection refused|Cannot connect to host|Name or service not known"
            r"|getaddrinfo failed|Temporary failure in name resolution|Network is unreachable"
            r"|ClientConnectorError|ConnectTimeout|NewConnectionError|No route to host"
        ),
        ConnectFailedError,
    ),
    (
        re.compile(
            r"ECONNRESET|Connection reset|[Ee]rrno 104|\(104,|Connection aborted|ServerDisconnected"
            r"|Server disconnected|RemoteDisconnected|Remote end closed connection|ConnectionClosed"
            r"|IncompleteRead|ClientPayloadError|Broken pipe|EPIPE|Connection broken"
        ),
        ConnectionDroppedError,
    ),
    (
        re.compile(
            r"ETIMEDOUT|timed out|TimeoutError|ReadTimeout|RequestTimeout|Timeout on reading"
            r"|Timeout context manager|ServerTimeoutError"
        ),
        RequestTimeoutError,
    ),
    (
        re.compile(r"\bConnectionError\b|\bNetworkError\b|ClientOSError|ExchangeNotAvailable"),
        TransportError,
    ),
)


def network_vocabulary() -> tuple[str, ...]:
    """The regex sources classify_network() looks for, most specific first: a log scanner's
    prefilter (binguard.doctor) uses the same list, so a line it skips is one this never types."""
    return tuple(pattern.pattern for pattern, _ in _NETWORK)


def classify_network(text: str) -> TransportError | None:
    """The transport failure a text reports (ECONNRESET, timeouts, refused connections...), if any.

    Only the network vocabulary is consulted: use classify_text() for text that may also carry a
    Binance code or message."""
    for pattern, cls in _NETWORK:
        if pattern.search(text):
            return cls(redact_text(text.strip()[:300]), received_at=time.time())
    return None


def _messages_near(text: str, end: int) -> list[str]:
    """What may be the message after a code in a log line ('): ', 'msg=', '"msg":"' ...): the rest
    of the line as written, then without one pair of surrounding quotes."""
    rest = text[end:]
    m = _MSG_AFTER.match(rest)
    rest = _BINGUARD_TAIL.sub("", (rest[m.end() :] if m else rest).strip())
    out = [rest]
    if rest[:1] in ("'", '"'):
        inner = rest[1:]
        close = inner.rfind(rest[0])
        out.append(inner[:close] if close > 0 else inner)
    return out


def _match_in(text: str, opening: str, t: Template) -> tuple[tuple[str, ...], str] | None:
    """Template `t` rendered somewhere inside `text`, found by its fixed opening: its values and
    the matched part. A log line carries more after the message, so the end is tried at the line's
    end, then at each quote, brace or separator."""
    pos = text.find(opening)
    if pos < 0:
        return None
    candidate = text[pos:]
    ends = [len(candidate)]
    for stop in ('"', "'", "}", "\n", " |", ", "):
        i = candidate.find(stop, len(opening))
        if i > 0:
            ends.append(i)
    for end in ends:
        values = t.match(candidate[:end])
        if values is not None:
            return values, candidate[:end].strip()
    return None


def _search_template(
    entry: CatalogEntry, text: str
) -> tuple[Template, tuple[str, ...], str] | None:
    """One of the entry's templates inside a longer text: the template, values and matched part."""
    for t in entry.templates:
        opening = literal_opening(t.message)
        if len(opening) >= 4:
            found = _match_in(text, opening, t)
            if found is not None:
                return t, *found
    return None


def has_catalog_message(text: str) -> bool:
    """Whether `text` contains the fixed opening of any catalog message (a cheap test)."""
    index = catalog().openings_by_word()
    for word in words_of(text[:4096]):
        for opening, _, _ in index.get(word, ()):
            if opening in text:
                return True
    return False


def _message_only(text: str) -> BinanceError | None:
    """A Binance message with no code around it (e.g. a pasted wording): only the templates whose
    opening shares a word with the text are tried."""
    index = catalog().openings_by_word()
    for word in words_of(text[:4096]):
        for opening, entry, t in index.get(word, ()):
            found = _match_in(text, opening, t)
            if found is not None:
                values, matched = found
                return error_from(
                    entry.code,
                    matched if values else t.message,
                    status=_status_in(text),
                    hit=(t, values),
                )
    return None


def classify_text(text: str) -> BinanceError | None:
    """A log line or free text: a JSON body in it, a 'code=-1021'-style mention, an HTTP status,
    a network failure, or a bare Binance message. None when it describes no error.
    Secrets in the text (`signature=...` in a logged URL) never reach the error's message."""
    if len(text) > 65536:
        text = text[:65536]
    text = redact_text(text)
    for m in _JSON_WITH_CODE.finditer(text):
        try:
            parsed = json.loads(m.group())
        except ValueError:
            continue
        if isinstance(parsed, Mapping):
            status = _status_in(text)
            err = from_mapping(parsed, status, None, None)
            if err is not None:
                return err
    found_code = _find_code(text)
    if found_code is not None:
        code, carried_status, code_end = found_code
        status = carried_status if carried_status is not None else _status_in(text)
        candidates = _messages_near(text, code_end)
        msg = candidates[-1]
        entry = catalog().get(code)
        hit = None
        if entry is not None:
            for candidate in candidates:
                exact = entry.match(candidate)
                if exact is not None:
                    hit = (exact[0], exact[1], candidate)
                    break
            else:
                hit = _search_template(entry, text)
        if hit is not None:
            template, values, matched = hit
            msg = matched if values else template.message
            return error_from(code, msg, status=status, hit=(template, values))
        return error_from(code, msg, status=status)
    status = _status_in(text)
    if status is not None and status >= 400:
        return from_status(status, text.strip()[:200], None, None)
    found = _message_only(text)
    if found is not None:
        return found
    return classify_network(text)


def _status_in(text: str) -> int | None:
    m = _STATUS.search(text)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


__all__ = ["classify_network", "classify_text", "has_catalog_message"]
