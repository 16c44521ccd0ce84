"""The gateway's settings: one dataclass, read from a config file and/or flags, validated once.

Every flag of `binguard gateway` is a field here and a key of the config file (YAML or JSON,
dashes or underscores); flags given on the command line win over the file. `validate()` refuses,
with one clear sentence, whatever would make the gateway unsafe or unusable: a non-loopback
listen address without `allow_remote` and an allow-list or a token, a weak token, a bad URL.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from binguard.backends.redis_url import REDIS_SCHEMES

# Binance's hosts (rest-api.md §General API Information, web-socket-api.md, web-socket-streams.md).
# Demo mode's hosts are Binance's published demo-trading endpoints.
PRESETS: Mapping[str, tuple[str, str, str]] = {
    "binance": (
        "https://api.binance.com",
        "wss://stream.binance.com:9443",
        "wss://ws-api.binance.com:443/ws-api/v3",
    ),
    "testnet": (
        "https://testnet.binance.vision",
        "wss://stream.testnet.binance.vision",
        "wss://ws-api.testnet.binance.vision/ws-api/v3",
    ),
    "demo": (
        "https://demo-api.binance.com",
        "wss://demo-stream.binance.com",
        "wss://demo-ws-api.binance.com/ws-api/v3",
    ),
}

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one sentence for the operator."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything `binguard gateway` can be told; the defaults are safe for one machine."""

    upstream: str = ""  # REST base URL; empty: the preset's
    preset: str = "binance"
    stream_upstream: str = ""  # market streams base (ws/wss); empty: from upstream or preset
    ws_api_upstream: str = ""  # WebSocket API URL; empty: from upstream or preset
    proxy: str = ""  # http:// or socks5(h):// proxy every upstream request and socket goes through
    listen: str = "127.0.0.1:8090"
    store: str = "memory://"  # redis://host:port/db: gateways on one IP share the budget
    ip_name: str = "default"  # the budget's IP scope name in a shared store
    account: str = "gateway"  # the ORDERS scope: every account behind this gateway counted as one
    allow_remote: bool = False  # needed for a non-loopback listen address
    allow_nets: tuple[str, ...] = ()  # client networks allowed from outside loopback
    token: str = ""  # clients outside loopback and the allow-list send /t/<token>/...
    allow_hosts: tuple[str, ...] = ()  # extra Host names clients may use (docker service name)
    cache_ttl_s: float = 10.0  # exchangeInfo kept this long; 0 turns every cache off
    cache_idle_s: float = 60.0  # a bookTicker stream nobody asked for this long is dropped
    max_wait_s: float = 3.0  # how long a request may wait for budget before a local 429
    upstream_timeout_s: float = 10.0  # Binance answers -1007 itself after 10 s
    read_retries: int = 3  # extra attempts for a read (GET) that failed transiently
    read_deadline_s: float = 5.0  # unsigned reads: total time for all attempts
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0
    margin: float = 0.95  # share of each limit the gateway uses (room for others on the IP)
    resync_s: float = 300.0  # server time resync period
    max_body_bytes: int = 65536
    max_header_bytes: int = 8190
    drain_s: float = 10.0  # SIGTERM: how long in-flight requests may take to finish
    log_level: str = "INFO"
    keys: str = ""  # keys mode: a keys file (gateway/keys.py); empty: pass-through mode
    keys_window_s: float = 300.0  # keys mode: a bot timestamp further from now is refused
    journal: str = ""  # keys mode's order journal (SQLite); empty: next to the keys file
    order_wait_s: float = 9.0  # keys mode: how long a bot waits for an unknown order's outcome
    reconcile_margin_s: float = 2.0  # keys mode: past timestamp + recvWindow, before "absent"
    order_window_ms: int = 5000  # keys mode: an order's recvWindow at most (resign.py)
    dashboard: bool = False  # a live terminal view of the gateway (dashboard.py)

    @property
    def rest_url(self) -> str:
        return (self.upstream or PRESETS[self.preset][0]).rstrip("/")

    @property
    def stream_url(self) -> str:
        """Streams base: explicit, else the upstream's host as ws(s) (the simulator serves all
        three on one port), else the preset's."""
        if self.stream_upstream:
            return self.stream_upstream.rstrip("/")
        if self._derived:
            return _as_ws(self.rest_url)
        return PRESETS[self.preset][1]

    @property
    def ws_api_url(self) -> str:
        if self.ws_api_upstream:
            return self.ws_api_upstream
        if self._derived:
            return _as_ws(self.rest_url) + "/ws-api/v3"
        return PRESETS[self.preset][2]

    @property
    def _derived(self) -> bool:
        """An upstream that is not one of Binance's hosts (the simulator, a test double) serves
        its sockets on its own host and port; Binance's own REST hosts (api1.binance.com, ...)
        use the preset's stream and WebSocket API hosts."""
        host = urlsplit(self.upstream).hostname or ""
        return bool(self.upstream) and not host.endswith(("binance.com", "binance.vision"))

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    @property
    def journal_path(self) -> str:
        """Keys mode's order journal: `journal`, else `<keys file stem>-journal.sqlite` beside
        the keys file."""
        if self.journal:
            return self.journal
        keys = Path(self.keys)
        return str(keys.with_name(keys.stem + "-journal.sqlite"))

    def with_(self, **changes: Any) -> GatewayConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> GatewayConfig:
        """From a parsed config file; unknown keys are errors (a typo must not pass silently)."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = str(raw_key).replace("-", "_")
            if key not in defaults:
                raise ConfigError(f"unknown gateway setting {raw_key!r}")
            kw[key] = _typed(key, value, defaults[key])
        return cls(**kw)

    @classmethod
    def load(cls, path: str | Path) -> GatewayConfig:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config file {str(path)!r}: {e}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"config file {str(path)!r} must hold a mapping of settings")
        return cls.from_mapping(data)

    def validate(self) -> GatewayConfig:
        """Self when usable; else raise ConfigError naming the setting."""
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; known: {', '.join(PRESETS)}")
        url = urlsplit(self.rest_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError("upstream must be an http(s) URL such as https://api.binance.com")
        if urlsplit(self.store).scheme.lower() not in ("memory", *REDIS_SCHEMES):
            # only the scheme is named: the rest of a Redis URL may hold a password
            raise ConfigError("store must be memory:// or redis://host:port/db")
        _check_proxy(self.proxy)
        for name in ("stream_url", "ws_api_url"):
            if urlsplit(getattr(self, name)).scheme not in ("ws", "wss"):
                raise ConfigError(f"{name.replace('_url', '_upstream')} must be a ws(s):// URL")
        host, _ = self.host_port
        for net in self.allow_nets:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"allow_nets: {net!r} is not a network (10.0.0.0/8)") from None
        if self.token and not _TOKEN.fullmatch(self.token):
            raise ConfigError("token must be 16-128 characters of A-Z a-z 0-9 _ -")
        if not is_loopback(host):
            if not self.allow_remote:
                raise ConfigError(
                    f"listen {self.listen!r} is not loopback: pass --allow-remote together with "
                    "--allow-net or --token, or listen on 127.0.0.1"
                )
            if not (self.allow_nets or self.token):
                raise ConfigError(
                    "--allow-remote needs --allow-net CIDR or --token: an open gateway would "
                    "let anyone on the network spend this IP's budget and earn its bans"
                )
        for name in (
            "cache_ttl_s",
            "cache_idle_s",
            "max_wait_s",
            "upstream_timeout_s",
            "read_deadline_s",
            "drain_s",
            "keys_window_s",
            "order_wait_s",
            "reconcile_margin_s",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("log_level must be DEBUG, INFO, WARNING or ERROR")
        if not 1 <= self.order_window_ms <= 60000:  # rest-api.md: recvWindow max 60000
            raise ConfigError("order_window_ms must be from 1 to 60000")
        if not 0 < self.margin <= 1:
            raise ConfigError("margin must be in (0, 1]")
        return self


def _typed(key: str, value: Any, default: Any) -> Any:
    """`value` as the setting's type (that of its default); ConfigError when it is not one."""
    kind = type(default)
    if kind is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(x, str) for x in items):
            raise ConfigError(f"{key} must be a list of strings")
        return tuple(items)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false")
        return value
    if kind in (int, float) and not isinstance(value, bool):
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
        raise ConfigError(f"{key} must be a number")
    if kind is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key} must be a {kind.__name__}")


def _check_proxy(proxy: str) -> None:
    """An http://, socks5:// or socks5h:// URL with a host and port; SOCKS needs aiohttp-socks
    (the `socks` extra). Only the scheme is named in errors: the rest may hold a password."""
    if not proxy:
        return
    try:
        url = urlsplit(proxy)
        port = url.port
    except ValueError:
        raise ConfigError("proxy must be http://host:port or socks5://host:port") from None
    if url.scheme not in ("http", "socks5", "socks5h") or not url.hostname:
        raise ConfigError("proxy must be http://host:port or socks5://host:port")
    if url.scheme != "http":
        if port is None:
            raise ConfigError(
                f"a {url.scheme}:// proxy needs a port, e.g. {url.scheme}://host:1080"
            )
        if importlib.util.find_spec("aiohttp_socks") is None:
            raise ConfigError(
                f"a {url.scheme}:// proxy needs aiohttp-socks: pip install 'binguard[socks]'"
            )


def _as_ws(url: str) -> str:
    return "wss" + url[5:] if url.startswith("https") else "ws" + url[4:]


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:8090', '[::1]:8090' or ':8090' (loopback) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"listen {text!r} must be HOST:PORT, e.g. 127.0.0.1:8090")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
