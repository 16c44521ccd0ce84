"""Binance-format error replies, rendered from the shared catalog (Binance's own texts).

The simulator never invents an error text: every body is `{"code": c, "msg": m}` where `m` is a
catalog message, with its placeholders filled in order. A handler raises `SimError`; the request
pipeline turns it into the HTTP reply with the status Binance uses for that code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache

from aiohttp import web

from binguard.errors import catalog

JSON = "application/json"

_PLACEHOLDER = re.compile(r"%s|%d|\{param\}")


def render(template: str, values: tuple[object, ...]) -> str:
    """Fill a catalog template's placeholders (%s, %d, {param}) left to right."""
    it = iter(values)
    return _PLACEHOLDER.sub(lambda _m: str(next(it)), template) if values else template


@cache
def message(code: int, index: int = 0) -> str:
    """The catalog's message number `index` for `code` (verbatim)."""
    return catalog()[code].messages[index]


@cache
def rejection(text: str) -> str:
    """A matching-engine message from the catalog (checked, so a typo fails loudly at import)."""
    for t in catalog().rejections:
        if t.message == text:
            return t.message
    raise KeyError(text)


@cache
def filter_failure(name: str) -> str:
    """'Filter failure: NAME' exactly as the catalog lists it."""
    for t in catalog().filter_failures:
        if t.filter == name:
            return t.message
    raise KeyError(name)


class SimError(Exception):
    """A Binance error reply: HTTP status, code and msg. Raised by any layer, sent by the pipeline."""

    __slots__ = ("code", "data", "headers", "msg", "status")

    def __init__(
        self,
        code: int,
        msg: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status if status is not None else catalog()[code].statuses[0]
        self.headers = headers or {}
        self.data = data  # cancelReplace's -2021 / -2022 carry a `data` object

    def payload(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out

    @classmethod
    def of(cls, code: int, index: int = 0, *values: object, status: int | None = None) -> SimError:
        """The error for `code` with catalog message `index`, placeholders filled with `values`."""
        return cls(code, render(message(code, index), values), status)

    def body(self) -> bytes:
        return json.dumps(self.payload(), separators=(",", ":")).encode()

    def response(self, headers: Mapping[str, str] | None = None) -> web.Response:
        """This error as an HTTP reply: its status and body, `headers` then its own headers."""
        merged = {**headers, **self.headers} if headers else self.headers
        return web.Response(body=self.body(), status=self.status, headers=merged, content_type=JSON)


# Shorthands for the texts the simulator uses most; each is a catalog message, rendered.
def mandatory(name: str) -> SimError:
    return SimError.of(-1102, 1, name)


def either_mandatory(a: str, b: str) -> SimError:
    return SimError.of(-1102, 2, a, b)


def not_required(name: str) -> SimError:
    return SimError.of(-1106, 1, name)


def empty(name: str) -> SimError:
    return SimError.of(-1105, 1, name)


def illegal(name: str, legal: str) -> SimError:
    return SimError.of(-1100, 1, name, legal)


def invalid_value(name: str) -> SimError:
    return SimError.of(-1130, 1, name)


def new_order_rejected(text: str) -> SimError:
    return SimError(-2010, rejection(text))


def cancel_rejected(text: str) -> SimError:
    return SimError(-2011, rejection(text))


def filter_error(name: str) -> SimError:
    return SimError(-1013, filter_failure(name))
