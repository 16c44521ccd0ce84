"""Request parameters as Binance reads them: query string plus form body, validated on read.

Binance's rules (rest-api.md §General Information on Endpoints): parameters may be in the query
string or the urlencoded body; when a name is in both, the query string wins. Repeating a name in
one place is -1101; a mandatory one missing is -1102; an empty optional one is -1105; a parameter
the endpoint does not read is -1104 ("Not all sent parameters were read"). Handlers read through
typed getters that raise the exact catalog error, then call `finish()`.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote_plus

from .errors import SimError, empty, invalid_value, mandatory
from .numbers import parse_amount, parse_int


def _split(raw: str, into: dict[str, str], overwrite: bool) -> None:
    seen: set[str] = set()
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        if name in seen:
            raise SimError.of(-1101, 2)
        seen.add(name)
        if overwrite or name not in into:
            into[name] = value


def signed_payload(query: str, body: str) -> str:
    """The exact text Binance signs: query string then body, without the signature parameter."""
    if "signature=" in query:
        query = "&".join(p for p in query.split("&") if not p.startswith("signature="))
    if "signature=" in body:
        body = "&".join(p for p in body.split("&") if not p.startswith("signature="))
    return query + body


class Params:
    """The parameters of one request. Getters return None for absent optional parameters."""

    __slots__ = ("_read", "values")

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self._read: set[str] = set()

    @classmethod
    def parse(cls, query: str, body: str = "") -> Params:
        values: dict[str, str] = {}
        if query:
            _split(query, values, overwrite=True)
        if body:
            _split(body, values, overwrite=False)
        return cls(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def mark(self, *names: str) -> None:
        """Record names read outside the getters (auth reads timestamp/signature/recvWindow)."""
        self._read.update(names)

    def raw(self, name: str, required: bool = False) -> str | None:
        self._read.add(name)
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise mandatory(name)
            if value == "":
                raise empty(name)
            return None
        return value

    def text(self, name: str, required: bool = False) -> str | None:
        return self.raw(name, required)

    def amount(self, name: str, required: bool = False, decimals: int = 8) -> int | None:
        value = self.raw(name, required)
        return None if value is None else parse_amount(value, name, decimals)

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.raw(name, required)
        return None if value is None else parse_int(value, name)

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise invalid_value(name)
        return value.lower() == "true"

    def enum(
        self,
        name: str,
        allowed: Collection[str],
        error: SimError | None = None,
        required: bool = False,
    ) -> str | None:
        value = self.raw(name, required)
        if value is not None and value not in allowed:
            raise error or invalid_value(name)
        return value

    def unread(self, *names: str) -> None:
        """Take back names a shared reader read that this endpoint does not have (-1104 then)."""
        self._read.difference_update(names)

    def finish(self) -> None:
        """-1104 if the request carried a parameter this endpoint never read."""
        if len(self._read.intersection(self.values)) != len(self.values):
            read = sum(1 for n in self.values if n in self._read)
            raise SimError.of(-1104, 1, read, len(self.values))
