"""Answers the gateway makes itself, in Binance's own words (the catalog's texts and statuses).

A bot's existing error handling must apply unchanged, so every local answer is the body Binance
would send — `{"code":..,"msg":".."}` with the catalog's message — with the status and
`Retry-After` Binance would use (rest-api.md §LIMITS, §General API Information: 5XX means the
execution status is UNKNOWN). Each also carries `X-Binguard-Gateway: <reason>`, so logs can tell
a local answer from Binance's:

    refused   the budget had no room within --max-wait (429, -1003)
    paused    a 429's Retry-After is in force (429, -1003)
    banned    the IP is banned (418, -1003 "IP banned until <ms>")
    unknown   an order's outcome could not be learnt (503, -1007)
    failed    a read failed after its retries (503, -1001)
    draining  the gateway is shutting down; nothing was sent (503, -1008)
    forbidden the client, its Host header or its target is not allowed (403, -1002)
    keys      keys mode refused the bot's key, signature or timestamp, nothing was sent
              (-2014/-2015 401; -1022, -1021, -1102 400)
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs

import orjson
from aiohttp import web

from binguard.errors import catalog

GATEWAY_HEADER = "X-Binguard-Gateway"
TIME_UNIT = "X-MBX-TIME-UNIT"  # rest-api.md: an answer's times in MICROSECOND or MILLISECOND
# The values that ask for microseconds (rest-api.md; `timeUnit` in WebSocket URLs takes the same),
# and every value Binance takes (CHANGELOG.md 2024-12-17; another is -1194 INVALID_TIME_UNIT).
MICROS = frozenset({"MICROSECOND", "microsecond"})
UNITS = frozenset({"MILLISECOND", "millisecond"}) | MICROS


def url_time_unit(query: str) -> str | None:
    """The `timeUnit` a WebSocket URL's query asks for (web-socket-api.md,
    web-socket-streams.md), None when it names none."""
    return parse_qs(query).get("timeUnit", [None])[-1]


_PLACEHOLDER = re.compile(r"%s|%d|\{param\}")


def catalog_text(code: int, index: int = 0, *values: object) -> str:
    """The catalog's message `index` for `code`, placeholders filled left to right."""
    it = iter(values)
    return _PLACEHOLDER.sub(lambda _m: str(next(it)), catalog()[code].messages[index])


def local(
    reason: str,
    status: int,
    code: int,
    msg: str,
    *,
    retry_after_s: float | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A Binance-shaped answer made by the gateway."""
    out = {GATEWAY_HEADER: reason, **(headers or {})}
    if retry_after_s is not None:
        out["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    body = orjson.dumps({"code": code, "msg": msg})
    return web.Response(
        body=body, status=status, headers=out, content_type="application/json", charset="UTF-8"
    )


def too_much_weight(
    limit: int | None, interval: str | None, wait_s: float | None, *, paused: bool = False
) -> web.Response:
    """429 -1003: with the limit that is full when one is known, else 'Too many requests queued.'"""
    if limit is not None and interval is not None:
        msg = catalog_text(-1003, 1, limit, interval)
    else:
        msg = catalog_text(-1003, 0)
    return local("paused" if paused else "refused", 429, -1003, msg, retry_after_s=wait_s or 1)


def banned(until_ms: int, now_ms: int) -> web.Response:
    """418 -1003 'IP banned until <ms>', Retry-After = seconds to the ban's end."""
    msg = catalog_text(-1003, 2, until_ms)
    return local("banned", 418, -1003, msg, retry_after_s=max(0, until_ms - now_ms) / 1000)


def execution_unknown() -> web.Response:
    """503 -1007: an order or cancel may have executed; the bot must check before re-sending."""
    return local("unknown", 503, -1007, catalog_text(-1007))


def read_failed() -> web.Response:
    """503 -1001: a read failed after its retries; nothing changed on the exchange."""
    return local("failed", 503, -1001, catalog_text(-1001))


def draining() -> web.Response:
    """503 -1008: the gateway is shutting down and sent nothing; try again shortly."""
    return local("draining", 503, -1008, catalog_text(-1008), retry_after_s=1)


def forbidden(why: str) -> web.Response:
    """403 -1002 with the reason after Binance's text (the reason names no secret)."""
    return local("forbidden", 403, -1002, f"{catalog_text(-1002)} binguard gateway: {why}")


def too_large() -> web.Response:
    """413: the request is larger than the gateway accepts (nothing was sent)."""
    return local("forbidden", 413, -1000, catalog_text(-1000) + " binguard gateway: too large")


def internal() -> web.Response:
    """500 -1000 for a read the gateway failed on itself (a bug: logged with its type)."""
    return local("failed", 500, -1000, catalog_text(-1000))
