"""Choose a budget store by URL: `memory://` for one process, `redis://host:port/db` for a fleet.

Lives next to the Redis store so that `binguard.backends` itself never imports redis-py: a bot
that keeps its budget in memory does not need the `redis` extra installed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import BudgetStore
from .memory import MemoryStore

REDIS_SCHEMES = ("redis", "rediss", "unix")


def store_from_url(
    url: str, *, ip: str = "default", account: str | None = None, **options: object
) -> BudgetStore:
    """A `MemoryStore` for "memory://", else a `RedisBudgetStore` (close it with `aclose()`).

    `ip` and `account` name the budget's scopes in Redis: every process on the same egress IP
    must pass the same `ip`, every process trading for one (sub)account the same `account`.
    `options` are `RedisStoreOptions` fields (prefix, timeout, fallback_share, ...).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme in REDIS_SCHEMES:
        from .redis import RedisBudgetStore, RedisStoreOptions  # redis-py only when asked for

        opts = RedisStoreOptions(**options)  # type: ignore[arg-type]
        return RedisBudgetStore.from_url(url, ip=ip, account=account, options=opts)
    # Only the scheme: the rest of a URL may hold a password (redis://:password@host).
    raise ValueError(
        f"unknown budget store scheme {scheme!r}: use memory:// or redis://host:port/db"
    )
