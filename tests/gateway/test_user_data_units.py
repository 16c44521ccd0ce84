"""The account and order caches alone (pure classes, fed Binance-shaped dicts: no fake needed).

Payloads follow user-data-stream.md (§Account Update, §Balance Update, §Order Update) and
rest-api.md (§Account information, §Query order, §New order, §Cancel order).
"""

from __future__ import annotations

from typing import Any

import orjson

from binguard.gateway.account_cache import AccountCache
from binguard.gateway.order_cache import OrderCache

SNAPSHOT: dict[str, Any] = {
    "makerCommission": 15,
    "canTrade": True,
    "updateTime": 1000,
    "accountType": "SPOT",
    "balances": [
        {"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"},
        {"asset": "LTC", "free": "0.00000000", "locked": "0.00000000"},
    ],
    "permissions": ["SPOT"],
    "uid": 7,
}


def position(u: int, asset: str, free: str, locked: str = "0.00000000") -> dict[str, Any]:
    return {"e": "outboundAccountPosition", "E": u + 1, "u": u, "B": [{"a": asset, "f": free, "l": locked}]}  # fmt: skip


def test_account_answers_nothing_before_its_snapshot_then_binance_shape() -> None:
    cache = AccountCache()
    assert cache.answer(False) is None
    assert cache.load(SNAPSHOT)
    assert orjson.loads(cache.answer(False) or b"") == SNAPSHOT
    omitted = orjson.loads(cache.answer(True) or b"")
    assert [b["asset"] for b in omitted["balances"]] == ["BTC"]
    assert list(omitted) == list(SNAPSHOT)  # rest-api.md's field order kept


def test_events_held_during_the_snapshot_apply_only_if_not_older() -> None:
    cache = AccountCache()
    cache.on_event(position(900, "BTC", "5.00000000"))  # older than the snapshot: ignored
    cache.on_event(position(1000, "LTC", "2.00000000"))  # same ms: may be after it, applied
    assert cache.load(SNAPSHOT)
    body = orjson.loads(cache.answer(False) or b"")
    assert body["balances"][0]["free"] == "1.00000000"
    assert body["balances"][1]["free"] == "2.00000000"
    cache.on_event(position(1500, "ETH", "3.00000000", "1.00000000"))
    body = orjson.loads(cache.answer(False) or b"")
    assert body["balances"][-1] == {"asset": "ETH", "free": "3.00000000", "locked": "1.00000000"}
    assert body["updateTime"] == 1500


def test_a_delta_before_the_snapshot_asks_for_another_and_after_it_applies() -> None:
    cache = AccountCache()
    cache.on_event({"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "0.5", "T": 1})
    assert not cache.load(SNAPSHOT) and not cache.ready  # placed before or after? take another
    cache.on_event({"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "0.5", "T": 1})
    cache.expect()  # the next request leaves after it: the delta is in its answer
    assert cache.load(SNAPSHOT)
    cache.on_event({"e": "balanceUpdate", "E": 2, "a": "BTC", "d": "-0.25000000", "T": 2})
    body = orjson.loads(cache.answer(False) or b"")
    assert body["balances"][0]["free"] == "0.75000000"
    cache.reset()
    assert cache.answer(False) is None


def report(x: str, status: str, executed: str, t: int, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "e": "executionReport", "E": t, "s": "BTCUSDT", "c": "mine", "S": "BUY", "o": "LIMIT",
        "f": "GTC", "q": "1.00000000", "p": "10.00000000", "P": "0.00000000",
        "F": "0.00000000", "g": -1, "C": "", "x": x, "X": status, "r": "NONE", "i": 5,
        "l": "0", "z": executed, "L": "0", "n": "0", "N": None, "T": t, "t": -1, "I": 1,
        "w": status in ("NEW", "PARTIALLY_FILLED"), "m": False, "M": False, "O": 100,
        "Z": "0.00000000", "Y": "0", "Q": "0.00000000", "W": 100, "V": "NONE",
    }  # fmt: skip
    out.update(extra)
    return out


def answer(cache: OrderCache, order_id: int | None = 5, client: str | None = None) -> Any:
    body = cache.answer("BTCUSDT", order_id, client)
    return None if body is None else orjson.loads(body)


def test_a_report_gives_the_query_shape() -> None:
    cache = OrderCache()
    cache.on_report(report("NEW", "NEW", "0.00000000", 100))
    got = answer(cache)
    assert got["status"] == "NEW" and got["isWorking"] is True and got["time"] == 100
    assert list(got)[:4] == ["symbol", "orderId", "orderListId", "clientOrderId"]
    assert answer(cache, None, "mine") == got
    assert answer(cache, 5, "other") is None  # Binance refuses a mismatched pair: upstream
    assert answer(cache, 6) is None


def test_an_answer_further_than_the_reports_is_never_contradicted() -> None:
    cache = OrderCache()
    cache.on_report(report("NEW", "NEW", "0.00000000", 100))
    # the placement's FULL answer says FILLED before the TRADE report came
    cache.on_answer({"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "mine",
                     "status": "FILLED", "executedQty": "1.00000000"})  # fmt: skip
    assert answer(cache) is None
    cache.on_report(report("TRADE", "FILLED", "1.00000000", 120))
    assert answer(cache)["status"] == "FILLED"
    cache.on_report(report("NEW", "NEW", "0.00000000", 100))  # late duplicate: not going back
    assert answer(cache)["status"] == "FILLED"


def test_a_cancel_report_keeps_the_original_client_id() -> None:
    cache = OrderCache()
    cache.on_report(report("NEW", "NEW", "0.00000000", 100))
    cache.on_report(report("CANCELED", "CANCELED", "0.00000000", 130, c="cancel-id", C="mine"))
    got = answer(cache, None, "mine")
    assert got["clientOrderId"] == "mine" and got["status"] == "CANCELED"


def test_an_unknown_field_or_no_working_time_is_not_shaped() -> None:
    cache = OrderCache()
    cache.on_report(report("NEW", "NEW", "0.00000000", 100, gP="PRIMARY_PEG"))
    assert answer(cache) is None
    working = report("NEW", "NEW", "0.00000000", 101)
    del working["W"]  # an untriggered stop: its workingTime is not in the report
    cache.on_report(working)
    assert answer(cache) is None


def test_a_query_answer_is_kept_and_the_cache_is_bounded() -> None:
    cache = OrderCache(capacity=2)
    shape = {"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "mine", "status": "NEW",
             "executedQty": "0", "time": 1, "updateTime": 1, "isWorking": True}  # fmt: skip
    cache.on_answer([shape])
    assert answer(cache) == shape
    for order_id in (6, 7):
        cache.on_answer({**shape, "orderId": order_id, "clientOrderId": f"c{order_id}"})
    assert answer(cache) is None and answer(cache, None, "mine") is None  # the oldest went
    assert len(cache) == 2


def test_an_sor_report_is_shaped_with_its_two_extra_fields() -> None:
    """faqs/sor_faq.md: an order placed with SOR shows usedSor and workingFloor."""
    cache = OrderCache()
    cache.on_report(report("NEW", "NEW", "0.00000000", 100, uS=True, k="SOR"))
    got = answer(cache)
    assert (got["usedSor"], got["workingFloor"]) == (True, "SOR")
    cache.on_report(report("TRADE", "FILLED", "1.00000000", 110, uS=True, k="SOR", b="X", a=1))
    assert answer(cache) is None  # an allocation's letters: not shaped, asked upstream
