"""A Redis store's options and the checks of its configuration, run when the store is built.

Every mistake raises `StoreConfigError` (a `ValueError`) naming the setting; a URL is only ever
shown with its password masked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .base import StoreConfigError
from .redis_fallback import check_share

if TYPE_CHECKING:
    import redis.asyncio as aioredis


REDIS_SCHEMES = ("redis", "rediss", "unix")


def masked_url(url: str) -> str:
    """`url` with any password replaced by '***' (for messages); '<unparsable URL>' if need be."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "<unparsable URL>"


def open_client(url: object, **kwargs: Any) -> aioredis.Redis:
    """An asyncio Redis client for `url`; a malformed URL raises `StoreConfigError`.

    redis-py connects lazily, so this checks only the URL's form: scheme, port, database number
    and query options (which redis-py parses here and would otherwise reject with its own words).
    """
    import redis.asyncio as aioredis  # redis-py only when asked for

    if not isinstance(url, str) or not url:
        raise StoreConfigError(
            f"the Redis URL must be a non-empty string, got {type(url).__name__}"
        )
    shown = masked_url(url)
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in REDIS_SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not one of {', '.join(REDIS_SCHEMES)}")
        if scheme != "unix":
            if not parts.hostname:
                raise ValueError("no host")
            _ = parts.port  # raises ValueError for a port that is not a number in 0..65535
            db = parts.path.strip("/")
            if db and not db.isdigit():  # redis-py would silently use database 0
                raise ValueError(f"the database must be a number, got {db!r}")
        return aioredis.Redis.from_url(url, **kwargs)
    except (ValueError, TypeError) as exc:
        # redis-py's and urllib's own words may quote the URL: keep only the password-free text
        reason = str(exc).replace(url, shown)
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        raise StoreConfigError(
            f"bad Redis URL {shown}: {reason} (expected redis://[:password@]host:port/db)"
        ) from None


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def check_identity(what: str, value: object) -> str:
    """`ip`, `account` and `member` name keys shared by the fleet: non-empty text, no blanks."""
    if not isinstance(value, str) or not value.strip():
        hint = (
            " (every process trading for one (sub)account must pass the same account=)"
            if what == "account"
            else ""
        )
        raise StoreConfigError(f"a Redis budget store needs {what}=, a non-empty string{hint}")
    if any(c.isspace() for c in value) or "{" in value or "}" in value:
        raise StoreConfigError(f"{what}= must not hold blanks or braces, got {value!r}")
    return value


def check_client(client: object, expected: type) -> None:
    if not isinstance(client, expected):
        raise StoreConfigError(
            f"the Redis store needs a redis.asyncio.Redis client, got {type(client).__name__} "
            "(a synchronous redis.Redis would block the event loop)"
        )


@dataclass(frozen=True, slots=True)
class RedisStoreOptions:
    """Tuning of a `RedisBudgetStore`; the defaults suit a fleet of up to 4 processes."""

    prefix: str = "binguard"
    timeout: float = 0.25  # seconds per Redis call, connect included
    fallback_share: float = 0.25  # of every limit, per process, while Redis is away (<= 1/N)
    probe_interval: float = 1.0  # seconds between attempts to reach Redis again
    fairness: bool = True
    fair_retry_ms: int = 25  # how soon a process capped by fairness may try again
    ttl_factor: int = 2  # window hashes expire this many intervals after their last write
    block_grace_ms: int = 3_600_000  # ban/pause keys outlive their end by this (Redis clock)
    max_skew_ms: int | None = 5_000  # log once when now_ms and Redis TIME differ by more

    def __post_init__(self) -> None:
        check_options(self)


def check_options(o: RedisStoreOptions) -> None:
    """Every `RedisStoreOptions` field in its range; raises `StoreConfigError` naming it."""
    if not isinstance(o.prefix, str) or not o.prefix or any(c in o.prefix for c in "{} \t\n"):
        raise StoreConfigError(f"prefix must be non-empty text without braces, got {o.prefix!r}")
    _positive("timeout", o.timeout)
    _positive("probe_interval", o.probe_interval)
    check_share(o.fallback_share)
    if not isinstance(o.fairness, bool):
        raise StoreConfigError(f"fairness must be True or False, got {o.fairness!r}")
    _count("fair_retry_ms", o.fair_retry_ms, 1)
    _count("ttl_factor", o.ttl_factor, 2)  # a window must outlive the next one (fairness claims)
    _count("block_grace_ms", o.block_grace_ms, 0)
    if o.max_skew_ms is not None:
        _count("max_skew_ms", o.max_skew_ms, 1)


def _positive(name: str, value: object) -> None:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number <= 0:
        raise StoreConfigError(f"{name} must be a positive number of seconds, got {value!r}")


def _count(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise StoreConfigError(f"{name} must be an integer >= {least}, got {value!r}")
