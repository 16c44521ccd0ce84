"""Bad configuration of a budget store or limit fails when the object is built (issue #12 item 8).

Each mistake raises `StoreConfigError` (a `ValueError`) naming the setting, never at the first
request, and no message holds a URL's password. Nothing here needs a running Redis: redis-py
connects lazily, and every check runs before a connection would be made.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from binguard.backends import Limit, LimitKind, StoreConfigError
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.backends.redis_url import store_from_url
from binguard.errors import Interval

SECRET = "hunter2-s3cret"
URL = "redis://127.0.0.1:6399/0"


def fails(match: str, build: Any, *args: Any, **kwargs: Any) -> StoreConfigError:
    with pytest.raises(StoreConfigError, match=match) as info:
        build(*args, **kwargs)
    assert isinstance(info.value, ValueError)  # callers catching ValueError still do
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    return info.value


def test_a_store_without_an_account_fails_when_built() -> None:
    fails("needs account=", RedisBudgetStore.from_url, URL, ip="10.0.0.1")
    fails("needs account=", store_from_url, URL, ip="10.0.0.1")
    fails("needs account=", RedisBudgetStore.from_url, URL, ip="10.0.0.1", account="  ")


@pytest.mark.parametrize(
    ("what", "kwargs"),
    [
        ("ip=", {"ip": "", "account": "a"}),
        ("ip=", {"ip": "10.0.0.1 ", "account": "a"}),
        ("account=", {"ip": "10.0.0.1", "account": "{a}"}),
        ("account=", {"ip": "10.0.0.1", "account": 7}),
        ("member=", {"ip": "10.0.0.1", "account": "a", "member": ""}),
    ],
)
def test_identities_are_checked(what: str, kwargs: dict[str, Any]) -> None:
    fails(what, RedisBudgetStore.from_url, URL, **kwargs)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"redis://:{SECRET}@127.0.0.1:notaport/0", "bad Redis URL redis://:\\*\\*\\*@"),
        (f"redis://:{SECRET}@127.0.0.1:99999/0", "bad Redis URL"),
        (f"redis://:{SECRET}@127.0.0.1:6379/notadb", "bad Redis URL"),
        (f"redis://:{SECRET}@/0", "no host"),
        (f"redis://user:{SECRET}@127.0.0.1:6379/0?socket_timeout=soon", "bad Redis URL"),
        (f"http://:{SECRET}@127.0.0.1:6379/0", "scheme 'http'"),
        ("", "non-empty string"),
    ],
)
def test_a_bad_url_fails_when_built_without_its_password(url: str, why: str) -> None:
    fails(why, RedisBudgetStore.from_url, url, ip="10.0.0.1", account="a")


def test_store_from_url_checks_scheme_and_option_names() -> None:
    fails("unknown budget store scheme 'mongodb'", store_from_url, f"mongodb://:{SECRET}@x")
    error = fails(
        "unknown Redis store option.*fallback_shar\\b",
        store_from_url,
        URL,
        account="a",
        fallback_shar=0.25,
    )
    assert "fallback_share" in str(error)  # the known names are listed
    fails("must be a string", store_from_url, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("fallback_share", 0),
        ("fallback_share", 1.5),
        ("fallback_share", -0.25),
        ("fallback_share", math.nan),
        ("fallback_share", True),
        ("fallback_share", "0.25"),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", math.inf),
        ("probe_interval", 0.0),
        ("ttl_factor", 1),
        ("fair_retry_ms", 0),
        ("block_grace_ms", -1),
        ("max_skew_ms", 0),
        ("prefix", ""),
        ("prefix", "a{b}"),
        ("fairness", "yes"),
    ],
)
def test_options_out_of_range_fail_when_built(option: str, value: object) -> None:
    fails(option, RedisStoreOptions, **{option: value})
    fails(option, store_from_url, URL, account="a", **{option: value})


def test_a_synchronous_client_is_refused_when_built() -> None:
    client = redis.Redis(port=6399)
    try:
        fails("redis.asyncio.Redis", RedisBudgetStore, client, ip="10.0.0.1", account="a")
    finally:
        client.close()
    fails(
        "RedisStoreOptions",
        RedisBudgetStore,
        aioredis.Redis(port=6399),
        ip="1",
        account="a",
        options={"timeout": 1},
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        ((LimitKind.ORDERS, Interval(10, "SECOND"), 0), "positive integer, got 0"),
        ((LimitKind.ORDERS, Interval(10, "SECOND"), -5), "positive integer"),
        ((LimitKind.ORDERS, Interval(10, "SECOND"), 1.5), "positive integer"),
        ((LimitKind.ORDERS, Interval(10, "SECOND"), True), "positive integer"),
        ((LimitKind.REQUEST_WEIGHT, Interval(0, "MINUTE"), 6000), "positive Interval"),
        ((LimitKind.REQUEST_WEIGHT, Interval(1, "WEEK"), 6000), "positive Interval"),
        (("WEIGHT", Interval(1, "MINUTE"), 6000), "LimitKind"),
    ],
)
def test_a_limit_that_cannot_be_kept_fails_when_built(args: tuple[Any, ...], why: str) -> None:
    fails(why, Limit, *args)


@pytest.mark.parametrize(
    "entry",
    [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 0},
        {"rateLimitType": "WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "FORTNIGHT", "intervalNum": 1, "limit": 10},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 0, "limit": 10},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "limit": "many"},
        {"interval": "SECOND", "limit": 10},
        "ORDERS",
    ],
)
def test_an_unusable_exchange_info_limit_is_a_typed_error(entry: Any) -> None:
    fails("rate limit|limit must", Limit.from_exchange_info, entry)


def test_good_configuration_still_builds() -> None:
    store = store_from_url(URL, ip="10.0.0.1", account="sub-1", fallback_share=1, timeout=0.5)
    assert isinstance(store, RedisBudgetStore)
    ok = Limit.from_exchange_info(
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100}
    )
    assert ok.key == "ORDERS:10S"
