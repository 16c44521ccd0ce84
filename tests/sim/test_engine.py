"""Engine invariants: determinism per seed, depth diffs consistent with snapshots, events."""

from __future__ import annotations

import re

from binguard.sim import Event, FlowConfig, SimConfig, SimState
from binguard.sim.numbers import to_atoms


def _run(seed: int, steps: int) -> list[tuple[int, int, int, bool]]:
    state = SimState(SimConfig(seed=seed, flow=FlowConfig(interval_ms=0)))
    state.engine.place(
        "demo", "BTCUSDT", "BUY", "LIMIT", "GTC", to_atoms("0.01"), None, to_atoms("29999.99")
    )
    for _ in range(steps):
        state.crowd.step()
    return [(t.trade_id, t.price, t.qty, t.buyer_is_maker) for t in state.engine.trades["BTCUSDT"]]


def test_same_seed_same_run_different_seed_different_run() -> None:
    a, b, c = _run(7, 150), _run(7, 150), _run(8, 150)
    assert a and a == b
    assert a != c


def test_depth_diffs_replay_onto_the_snapshot() -> None:
    """A local book built from a snapshot plus U/u-chained diffs equals the engine's book."""
    state = SimState(SimConfig(seed=3, flow=FlowConfig(interval_ms=0)))
    events: list[Event] = []
    state.subscribe(events.append)
    last_id, bids, asks = state.engine.depth("BTCUSDT", 5000)
    local = {"b": dict(bids), "a": dict(asks)}
    state.engine.place(
        "demo", "BTCUSDT", "SELL", "LIMIT", "GTC", to_atoms("0.1"), None, to_atoms("29000")
    )
    for _ in range(100):
        state.crowd.step()
    expected = last_id + 1
    for e in (e for e in events if e.kind == "depth" and e.symbol == "BTCUSDT"):
        assert e.data["U"] == expected, "gap in the diff stream"
        expected = e.data["u"] + 1
        for side in ("b", "a"):
            for price, qty in e.data[side]:
                p, q = to_atoms(price), to_atoms(qty)
                if q:
                    local[side][p] = q
                else:
                    local[side].pop(p, None)
    final_id, final_bids, final_asks = state.engine.depth("BTCUSDT", 5000)
    assert final_id == expected - 1
    assert sorted(local["b"].items()) == sorted(final_bids)
    assert sorted(local["a"].items()) == sorted(final_asks)


def test_user_events_for_a_fill() -> None:
    state = SimState(SimConfig(seed=1, flow=FlowConfig(interval_ms=0)))
    events: list[Event] = []
    state.subscribe(events.append)
    order = state.engine.place(
        "demo", "BTCUSDT", "BUY", "MARKET", "GTC", to_atoms("0.001"), None, None
    )
    reports = [e.data for e in events if e.kind == "executionReport"]
    assert next(r["x"] for r in reports) == "NEW"
    assert reports[-1]["X"] == "FILLED" and reports[-1]["i"] == order.order_id
    trades = [e for e in events if e.kind == "trade"]
    assert trades and trades[0].data["e"] == "trade"
    positions = [e for e in events if e.kind == "outboundAccountPosition"]
    assert positions and positions[-1].account == "demo"
    assets = {b["a"] for b in positions[-1].data["B"]}
    assert assets == {"BTC", "USDT"}
    # events of the internal crowd account never reach user-data listeners
    assert all(e.account in (None, "demo") for e in events)


def test_subscribers_survive_reset() -> None:
    state = SimState(SimConfig(flow=FlowConfig(interval_ms=0)))
    seen: list[Event] = []
    state.subscribe(seen.append)
    state.reset()
    state.engine.place(
        "demo", "BTCUSDT", "BUY", "LIMIT", "GTC", to_atoms("0.001"), None, to_atoms("20000")
    )
    assert any(e.kind == "executionReport" for e in seen)
    state.unsubscribe(seen.append)


def test_generated_client_order_ids_are_unique_binance_shaped_and_seeded() -> None:
    """Ids the engine makes for orders sent without newClientOrderId: 22 characters of
    [A-Za-z0-9] (Binance's generated ids look so; the allowed set is ^[.A-Z:/a-z0-9_-]{1,36}$,
    rest-api.md), never repeated, and the same sequence for the same seed."""

    def ids(seed: int) -> list[str]:
        engine = SimState(SimConfig(seed=seed, flow=FlowConfig(enabled=False))).engine
        return [engine.new_client_order_id() for _ in range(5000)]

    a, b, c = ids(7), ids(7), ids(8)
    assert all(re.fullmatch(r"[A-Za-z0-9]{22}", i) for i in a)
    assert len(set(a)) == len(a)
    assert a == b
    assert not set(a) & set(c)
