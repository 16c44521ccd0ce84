"""The journal's schema version table and migration (journal_schema.py): a journal written by the
release before lists and edits (fixtures/journal_v1.db, made with that release's code, see
fixtures/README.md), with entries left pending, opens, is migrated in place, and `recover()`
against the simulator settles every pending entry — found, or provably never placed.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from binguard.connector.journal import JournalError, OrderJournal, Stage
from binguard.connector.journal_schema import VERSION, version_of
from binguard.sim import Simulator

from .conftest import MakeConnector, admin

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v1.db"


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    """A copy of the v1 journal (opening migrates the file)."""
    path = tmp_path / "journal.db"
    shutil.copy(FIXTURE, path)
    return path


def test_fixture_is_version_1(v1: Path) -> None:
    # a copy: even a read-only open of a WAL database writes its -shm file beside it
    db = sqlite3.connect(f"file:{v1}?mode=ro", uri=True)
    try:
        assert version_of(db) == 1
    finally:
        db.close()


def test_opens_and_migrates_keeping_every_entry(v1: Path) -> None:
    with OrderJournal(v1) as j:
        assert (j.migrated_from, j.version) == (1, VERSION)
        stages = {e.client_order_id: e.stage for e in j.all()}
        assert stages == {
            "v1-intent": Stage.INTENT,
            "v1-sent-placed": Stage.SENT,
            "v1-sent-absent": Stage.SENT,
            "v1-unknown": Stage.UNKNOWN,
            "v1-acked": Stage.ACKED,
            "v1-final": Stage.FINAL,
        }
        acked = j.get("v1-acked")
        assert acked is not None and (acked.order_id, acked.status) == (7, "NEW")
        # the new tables work in the migrated file
        j.lists.record_intent("L1", "BTCUSDT", "OCO", {"side": "SELL"}, [("a", "above")])
        entry = j.lists.get("L1")
        assert entry is not None and [leg.role for leg in entry.legs] == ["above"]
    with OrderJournal(v1) as again:  # opened a second time: nothing left to migrate
        assert (again.migrated_from, again.version) == (VERSION, VERSION)
        assert again.lists.get("L1") is not None


def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    OrderJournal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer"):
        OrderJournal(path)


async def test_recover_settles_a_v1_journal(
    sim: Simulator, connect: MakeConnector, v1: Path
) -> None:
    # "v1-sent-placed" did reach the engine before the crash: it rests on the exchange.
    placer = await connect()
    await placer.call(
        "POST",
        "/api/v3/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01",
            "price": "29001",
            "newClientOrderId": "v1-sent-placed",
        },
        signed=True,
    )
    bn = await connect(options={"journal_path": str(v1)})
    results = await bn.recover()
    assert [r.client_order_id if r else None for r in results] == [
        None,  # v1-intent: never sent
        "v1-sent-placed",
        None,  # v1-sent-absent: not there past the recvWindow proof
        None,  # v1-unknown: the same
    ]
    truth = {o["clientOrderId"]: o for o in await admin(sim, "orders")}
    assert bn.journal.pending() == []
    found = bn.journal.get("v1-sent-placed")
    assert found is not None and found.stage is Stage.ACKED
    assert found.order_id == truth["v1-sent-placed"]["orderId"]
    for coid in ("v1-intent", "v1-sent-absent", "v1-unknown"):
        entry = bn.journal.get(coid)
        assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "NOT_PLACED")
        assert coid not in truth
    assert bn.journal.version == VERSION
