"""The journal is durable across processes and refuses to reuse an id for another order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from binguard.connector.journal import JournalError, OrderJournal, Stage


def test_stages_and_pending(tmp_path: Path) -> None:
    with OrderJournal(tmp_path / "j.db") as j:
        j.record_intent("a", "BTCUSDT", {"side": "BUY"})
        j.record_intent("b", "BTCUSDT", {"side": "SELL"})
        j.record_intent("c", "BTCUSDT", {"side": "SELL"})
        j.mark_sent("a")
        j.mark_unknown("a", "ConnectionDroppedError")
        j.mark_sent("b")
        j.mark_acked("b", 42, "NEW")
        j.mark_final("c", "NOT_PLACED")
        assert [(e.client_order_id, e.stage) for e in j.pending()] == [("a", Stage.UNKNOWN)]
        a = j.get("a")
        assert a is not None and a.attempts == 1 and a.last_error == "ConnectionDroppedError"
        b = j.get("b")
        assert b is not None and b.order_id == 42 and b.status == "NEW"


def test_same_intent_twice_is_idempotent_other_params_refused(tmp_path: Path) -> None:
    with OrderJournal(tmp_path / "j.db") as j:
        j.record_intent("a", "BTCUSDT", {"side": "BUY", "quantity": "1"})
        j.record_intent("a", "BTCUSDT", {"quantity": "1", "side": "BUY"})
        with pytest.raises(JournalError):
            j.record_intent("a", "BTCUSDT", {"side": "SELL", "quantity": "1"})
        with pytest.raises(JournalError):
            j.mark_sent("nope")


def test_survives_a_killed_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    script = (
        "import os, sys\n"
        "from binguard.connector.journal import OrderJournal\n"
        f"j = OrderJournal({str(path)!r})\n"
        "j.record_intent('x', 'BTCUSDT', {'side': 'BUY'})\n"
        "j.mark_sent('x')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == -9
    with OrderJournal(path) as j:
        pending = j.pending()
    assert [(e.client_order_id, e.stage) for e in pending] == [("x", Stage.SENT)]


def test_unreadable_file_is_a_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(JournalError):
        OrderJournal(bad)
