"""Who may use the gateway, and for what: never an open proxy, never a leak of a token.

A request passes when all hold:
- it is origin-form (`GET /api/v3/...`), not absolute-form (`GET http://host/...`) and not CONNECT:
  the gateway forwards only to its configured upstream, whatever a client asks;
- its Host header names the gateway (its listen address, localhost, a loopback literal, or an
  `allow_hosts` name), never the upstream or another site;
- its client is on loopback, inside an `allow_nets` network, or sent the token as the first path
  segments `/t/<token>/...` (unmodified bots can change a base URL, not add a header).

`check()` returns the path to serve (token prefix removed) or the refusal; a refusal's text never
repeats the token or the query string.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from aiohttp import web

from .config import GatewayConfig, is_loopback

_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class Passed:
    """An allowed request: `path` without the token prefix, `query` the raw query string."""

    path: str
    query: str


@dataclass(frozen=True, slots=True)
class Refused:
    why: str


class Access:
    """The checks of the module docstring, prepared once from the config."""

    def __init__(self, config: GatewayConfig, port: int) -> None:
        host, _ = config.host_port
        self._nets = tuple(ipaddress.ip_network(n, strict=False) for n in config.allow_nets)
        self._token = config.token.encode()
        self._wildcard = host in ("0.0.0.0", "::")
        self._hosts = {h.lower() for h in (*_LOCAL_NAMES, host, *config.allow_hosts)}
        self.port = port

    def check(self, request: web.Request) -> Passed | Refused:
        if request.method == "CONNECT" or not request.raw_path.startswith("/"):
            return Refused("the gateway forwards only to its upstream, not as a proxy")
        if not self._host_ok(request.headers.get("Host", "")):
            return Refused("the Host header must name the gateway")
        path, _, query = request.raw_path.partition("?")
        tokened = path.startswith("/t/")
        if tokened:
            given, _, rest = path[3:].partition("/")
            if not self._token or not hmac.compare_digest(given.encode(), self._token):
                return Refused("unknown token")
            path = "/" + rest
        elif not self._client_ok(request.remote):
            return Refused("this client is not allowed; use /t/<token>/ or an allowed network")
        return Passed(path, query)

    def _host_ok(self, header: str) -> bool:
        name, port = _split_host(header)
        if port is not None and port != self.port:
            return False
        if name in self._hosts:
            return True
        if self._wildcard:  # clients may use any of this machine's addresses
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    def _client_ok(self, remote: str | None) -> bool:
        if remote is None:
            return False
        if is_loopback(remote):
            return True
        try:
            addr = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(addr in net for net in self._nets)


def _split_host(header: str) -> tuple[str, int | None]:
    """'host:port' / '[::1]:port' / 'host' as (lower-case name, port or None)."""
    text = header.strip().lower()
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        if not sep:
            name, port = text, ""
    if not port:
        return name, None
    return name, int(port) if port.isdigit() else -1  # a port that is not a number: refused
