"""The REST fallback while user data is down polls every tracked open order in turn.

With more open orders than a round holds (`fallback_max_orders`), each round goes on where the
last stopped, so none is starved: every order is polled within ceil(n / max) rounds, and a fill
on the order polled last is learnt. `next_round`, the turn itself, is checked as a property too,
with orders appearing and vanishing between rounds.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from binguard.connector.client import SpotConnector
from binguard.connector.journal import Stage
from binguard.connector.userdata import OrderKey, next_round
from binguard.sim import Simulator
from binguard.sim.engine.core import INTERNAL_ACCOUNT
from binguard.sim.numbers import fmt, to_atoms

from .ws_support import MakeConnector, admin, load_faults, until, wconnect, wsim

__all__ = ["wconnect", "wsim"]  # fixtures

QTY = "0.01"


async def place(bn: SpotConnector, price: str) -> Any:
    return await bn.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity=QTY, price=price, time_in_force="GTC"
    )


def is_query(r: dict[str, Any]) -> bool:
    return "ws" not in r and r["path"] == "/api/v3/order" and r["method"] == "GET"


async def test_every_open_order_is_polled_in_turn_and_the_last_fill_is_learnt(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    per_round, n = 2, 7
    bn = await wconnect(fallback_poll=0.1, fallback_max_orders=per_round)
    rounds: list[list[int]] = []
    bn.on(lambda e: rounds.append(list(e.data["orders"])) if e.kind == "user_data_poll" else None)
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    engine = wsim.state.engine
    book, tick = engine.books["BTCUSDT"], engine.rules["BTCUSDT"].tick
    best_bid, best_ask = book.bids.best(), book.asks.best()
    assert best_bid is not None and best_ask is not None and best_bid + tick < best_ask
    resting = [await place(bn, str(29000 + i)) for i in range(n - 1)]
    # The last order (highest id: last in the turn) alone at the top of the bids.
    last = await place(bn, fmt(best_bid + tick))
    assert all(o.status == "NEW" for o in [*resting, last])
    ids = sorted(o.order_id for o in [*resting, last])
    assert ids[-1] == last.order_id and len(bn.tracker.open_orders()) == n
    # From now on every WebSocket API connection is reset as it opens: the stream stays down.
    load_faults(wsim, {"action": "ws_reset", "path": "/ws-api/v3"})
    ud.sup.drop("test: network lost")
    assert not ud.healthy and rounds == []
    connects, catch_ups = ud.sup.stats.connects, ud.catch_ups
    # Another trader sells into our best bid: only `last` fills (its price stops the sweep).
    taker = engine.place(
        INTERNAL_ACCOUNT, "BTCUSDT", "SELL", "LIMIT", "IOC", to_atoms(QTY), None, best_bid + tick
    )
    assert taker.status == "FILLED"
    needed = math.ceil(n / per_round)
    await until(lambda: len(rounds) >= needed, what=f"{needed} polling rounds")
    first = rounds[:needed]
    assert all(0 < len(r) <= per_round and len(r) == len(set(r)) for r in first), first
    assert sorted({i for r in first for i in r}) == ids  # everyone's turn came, none starved
    assert last.order_id in first[-1]  # ... the last one's in the last of those rounds
    known = bn.tracker.get(client_order_id=last.client_order_id)
    assert known is not None and known.status == "FILLED" and known.executed_qty == Decimal(QTY)
    entry = bn.journal.get(last.client_order_id)
    assert entry is not None and entry.stage is Stage.FINAL and entry.status == "FILLED"
    truth = {o["orderId"]: o["status"] for o in await admin(wsim, "orders?account=demo")}
    assert truth[last.order_id] == "FILLED"
    assert all(truth[o.order_id] == "NEW" for o in resting)
    # Learnt by polling alone: the stream never came back, no catch-up ran.
    assert not ud.healthy and (ud.sup.stats.connects, ud.catch_ups) == (connects, catch_ups)
    queries = [r for r in await admin(wsim, "requests") if is_query(r)]
    assert len(queries) >= n
    # The filled order left the turn; the others keep theirs.
    await until(lambda: len(rounds) >= needed + 3, what="three more rounds")
    later = {i for r in rounds[needed + 1 :] for i in r}
    assert last.order_id not in later and later <= set(ids[:-1])


def _key(i: int) -> OrderKey:
    return ("BTCUSDT" if i % 2 else "ETHUSDT", i)


def test_next_round_on_a_fixed_set_covers_everything_in_ceil_n_over_max_rounds() -> None:
    keys = [_key(i) for i in range(10)]
    after: OrderKey | None = None
    seen: list[OrderKey] = []
    for _ in range(math.ceil(len(keys) / 3)):
        batch = next_round(keys, after, 3)
        seen += batch
        after = batch[-1]
    # 4 rounds of 3: the first ten are all the keys, the last round wraps around to the start.
    assert seen[:10] == sorted(keys) and seen[10:] == sorted(keys)[:2]
    assert next_round([], None, 3) == [] and next_round(keys, None, 0) == []
    assert next_round(keys[:2], None, 5) == sorted(keys[:2])  # a key at most once per round
    gone = ("BTCUSDT", 4)  # the last one polled has vanished: the turn goes on after it
    assert gone not in keys and next_round(keys, gone, 2) == [("BTCUSDT", 5), ("BTCUSDT", 7)]
    assert next_round(keys, ("ETHUSDT", 8), 2) == [("BTCUSDT", 1), ("BTCUSDT", 3)]  # wraps


@given(
    limit=st.integers(1, 5),
    steady=st.integers(0, 60),
    churn=st.lists(st.sets(st.integers(0, 60), max_size=25), min_size=1, max_size=40),
)
def test_next_round_reaches_a_present_order_despite_churn(
    limit: int, steady: int, churn: list[set[int]]
) -> None:
    """An order open in every round is polled within ceil(N / limit) rounds, N being the number
    of distinct orders open at some point meanwhile: others appearing or vanishing between
    rounds never push it back for good."""
    sets = [{_key(i) for i in s} | {_key(steady)} for s in churn]
    after: OrderKey | None = None
    for n_round, present in enumerate(sets, 1):
        batch = next_round(present, after, limit)
        assert len(batch) == min(limit, len(present)) and len(set(batch)) == len(batch)
        assert set(batch) <= present
        if _key(steady) in batch:
            distinct = set().union(*sets[:n_round])
            assert n_round <= math.ceil(len(distinct) / limit)
            return
        after = batch[-1]
    distinct = set().union(*sets)
    assert len(sets) < math.ceil(len(distinct) / limit)  # not reached only if too few rounds
