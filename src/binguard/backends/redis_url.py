"""Choose a budget store by URL: `memory://` for one process, `redis://host:port/db` for a fleet.

Lives next to the Redis store so that `binguard.backends` itself never imports redis-py: a bot
that keeps its budget in memory does not need the `redis` extra installed.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from .base import BudgetStore, StoreConfigError
from .memory import MemoryStore

REDIS_SCHEMES = ("redis", "rediss", "unix")


def store_from_url(
    url: str, *, ip: str = "default", account: str | None = None, **options: object
) -> BudgetStore:
    """A `MemoryStore` for "memory://", else a `RedisBudgetStore` (close it with `aclose()`).

    `ip` and `account` name the budget's scopes in Redis: every process on the same egress IP
    must pass the same `ip`, every process trading for one (sub)account the same `account`.
    `options` are `RedisStoreOptions` fields (prefix, timeout, fallback_share, ...).
    Every configuration mistake raises `StoreConfigError` here, never at the first request.
    """
    if not isinstance(url, str):
        raise StoreConfigError(f"a budget store URL must be a string, got {type(url).__name__}")
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = "?"
    if scheme == "memory":  # account= and options only matter to Redis: one call serves both
        return MemoryStore()
    if scheme in REDIS_SCHEMES:
        from .redis import RedisBudgetStore, RedisStoreOptions  # redis-py only when asked for

        known = {f.name for f in dataclasses.fields(RedisStoreOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise StoreConfigError(
                f"unknown Redis store option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        opts = RedisStoreOptions(**options)  # type: ignore[arg-type]
        return RedisBudgetStore.from_url(url, ip=ip, account=account, options=opts)
    # Only the scheme: the rest of a URL may hold a password (redis://:password@host).
    raise StoreConfigError(
        f"unknown budget store scheme {scheme!r}: use memory:// or redis://host:port/db"
    )
