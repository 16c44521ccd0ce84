"""When the journal's writes become durable (journal.py): the client order id (in the intent log)
before the request's bytes leave, the answer's ACKED write with the next commit or within
`commit_after` — and a crash that loses that write loses nothing, since recover() finds the order
by its client order id.

Real parts: a file journal, a copy of its files opened as a process started after a crash would
open them (and a second SQLite connection reading what is committed), the simulator over
loopback, and a child process killed with signal 9.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.journal import COMMIT_BATCH, JournalError, OrderJournal, Stage
from binguard.connector.journal_log import SIZE, encode_line
from binguard.sim import Simulator

from .conftest import FAST, MakeConnector, credentials, ground_truth, load_faults, until

ROOT = Path(__file__).resolve().parents[2]


def on_disk(path: Path, coid: str) -> tuple[str, int] | None:
    """(stage, attempts) of an entry as a process started after a crash now would read it: the
    journal's files as they are (SQLite file, its WAL, the intent log) copied and opened."""
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("", "-wal", "-intents"):
            if Path(f"{path}{suffix}").exists():
                shutil.copy(f"{path}{suffix}", f"{tmp}/j.db{suffix}")
        with OrderJournal(f"{tmp}/j.db") as j:
            entry = j.get(coid)
    return (entry.stage.value, entry.attempts) if entry else None


def log_size(path: Path) -> int:
    """Bytes of records in the journal's intent log (the rest of the file is zeros)."""
    data = Path(f"{path}-intents").read_bytes()
    return len(data.rstrip(b"\0"))


def write_log(path: Path, records: bytes) -> None:
    """An intent log as a crash left it: `records`, then zeros."""
    Path(f"{path}-intents").write_bytes(records + bytes(SIZE - len(records)))


def committed(path: Path, coid: str) -> tuple[str, int] | None:
    """(stage, attempts) of an entry in the SQLite file alone, as another connection reads it."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT stage, attempts FROM orders WHERE client_order_id = ?", (coid,)
        ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


async def test_the_intent_is_committed_before_the_bytes_leave(
    sim: Simulator, connect: MakeConnector, tmp_path: Path
) -> None:
    """While the order is at the exchange (held there 300 ms), the journal's files already hold it
    SENT (in the intent log: not yet in SQLite, one write instead of a commit)."""
    path = tmp_path / "j.db"
    bn = await connect(options={"journal_path": path})
    load_faults(
        sim, {"action": "latency", "path": "/api/v3/order", "method": "POST", "latency_ms": 300}
    )
    task = asyncio.create_task(
        bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000", time_in_force="GTC",
            client_order_id="bg-inflight",
        )
    )  # fmt: skip
    await until(lambda: any(r["method"] == "POST" for r in sim.state.requests), what="the POST")
    assert on_disk(path, "bg-inflight") == ("sent", 1)
    assert committed(path, "bg-inflight") is None
    order = await task
    assert order.client_order_id == "bg-inflight"
    entry = bn.journal.get("bg-inflight")  # this process sees the answer at once
    assert entry is not None and entry.stage is Stage.ACKED and entry.order_id == order.order_id


async def test_deferred_writes_wait_for_a_commit_and_reads_see_them(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with OrderJournal(path, commit_after=0.05) as j:
        assert j.record_first_send("a", "BTCUSDT", {"side": "BUY"})
        j.mark_acked("a", 42, "NEW", soon=True)
        assert committed(path, "a") is None  # the intent is in the log only
        assert on_disk(path, "a") == ("sent", 1)  # what a crash here leaves: recover() settles it
        assert j.stage("a") == (Stage.ACKED, "NEW") and j.pending() == []  # reads see it
        j.mark_acked("a", 42, "FILLED", soon=True)
        await until(lambda: committed(path, "a") == ("acked", 1), what="the deferred commit")
        assert log_size(path) == 0  # emptied once committed
        entry = j.get("a")
        assert entry is not None and (entry.order_id, entry.status) == (42, "FILLED")


async def test_a_batch_of_deferred_writes_commits_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with OrderJournal(path, commit_after=60) as j:
        for i in range(COMMIT_BATCH):
            assert j.record_first_send(f"o{i}", "BTCUSDT", {"side": "BUY"})
        assert committed(path, "o0") == ("sent", 1)


def test_an_intent_log_left_by_a_crash_is_applied_once(tmp_path: Path) -> None:
    """The log's lines are applied when the journal opens, a line cut short is skipped, and an
    intent already committed (a crash between the commit and emptying the log) stays as it is."""
    path = tmp_path / "j.db"
    with OrderJournal(path) as j:
        j.record_intent("done", "BTCUSDT", {"side": "BUY"})
        j.mark_sent("done")
        j.mark_acked("done", 7, "FILLED")
    # params as an object (this release's lines) or as JSON text (lines written before it)
    params = {"type": "LIMIT", "side": "BUY"}
    lines = [
        encode_line({"t": "o", "c": "done", "s": "BTCUSDT", "p": '{"side":"BUY"}', "m": 1}),
        encode_line({"t": "o", "c": "new", "s": "BTCUSDT", "p": params, "m": 1}),
        encode_line({"t": "o", "c": "old", "s": "BTCUSDT", "p": '{"side":"SELL"}', "m": 2}),
    ]
    cut = encode_line({"t": "o", "c": "cut", "s": "BTCUSDT", "p": {}, "m": 1})[:-9]
    write_log(path, b"".join(lines) + cut)
    with OrderJournal(path) as j:
        assert [(e.client_order_id, e.stage, e.attempts, e.params) for e in j.all()] == [
            ("new", Stage.SENT, 1, params),  # created_ms 1: listed first
            ("old", Stage.SENT, 1, {"side": "SELL"}),
            ("done", Stage.ACKED, 1, {"side": "BUY"}),
        ]
        assert [e.client_order_id for e in j.pending()] == ["new", "old"]
        # the row's text is the one every write makes (keys sorted), so a re-send compares equal
        assert j.record_first_send("new", "BTCUSDT", {"side": "BUY", "type": "LIMIT"}) is False
    assert log_size(path) == 0


def test_a_first_send_row_holds_the_params_as_they_were_when_journalled(tmp_path: Path) -> None:
    """The row's text is made at its (deferred) commit, from the journal's own copy: a caller
    changing its dict after the call changes nothing journalled."""
    path = tmp_path / "j.db"
    with OrderJournal(path, commit_after=60) as j:
        params = {"side": "BUY", "price": "1.0"}

        async def send() -> None:  # (in a running loop, so the row's commit is deferred)
            assert j.record_first_send("a", "BTCUSDT", params)

        asyncio.run(send())
        params["price"] = "2.0"
        assert committed(path, "a") is None
        entry = j.get("a")  # commits it
        assert entry is not None and entry.params == {"side": "BUY", "price": "1.0"}
        assert on_disk(path, "a") == ("sent", 1)


def test_without_an_event_loop_an_acked_write_commits_at_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with OrderJournal(path) as j:
        j.record_intent("a", "BTCUSDT", {"side": "BUY"})
        j.mark_sent("a")
        j.mark_acked("a", 42, "NEW", soon=True)
        assert committed(path, "a") == ("acked", 1)


async def test_the_next_write_commits_deferred_ones_even_when_it_fails(tmp_path: Path) -> None:
    """An id reused for other params is refused, and the deferred ACKED write committed in the
    refused statement's transaction is not lost with it."""
    path = tmp_path / "j.db"
    with OrderJournal(path) as j:
        j.record_first_send("a", "BTCUSDT", {"side": "BUY"})
        j.mark_acked("a", 42, "NEW", soon=True)
        with pytest.raises(JournalError):
            j.record_first_send("a", "BTCUSDT", {"side": "SELL"})
        assert committed(path, "a") == ("acked", 1)


KILL_AFTER_PLACE = """
import asyncio, os, signal, sys
from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions

async def main(url, key, secret, journal):
    options = ConnectorOptions(recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal)
    bn = SpotConnector(api_key=key, secret=secret, base_url=url, options=options)
    await bn.open()
    order = await bn.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000", time_in_force="GTC",
        client_order_id="bg-killed",
    )
    print(order.order_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no turn of the loop since the answer: ACKED not committed

asyncio.run(main(*sys.argv[1:5]))
"""


async def test_an_acked_write_lost_to_kill9_is_recovered(sim: Simulator, tmp_path: Path) -> None:
    """The answer arrived, the process died before the ACKED write was committed: the entry is
    SENT on disk, and recover() finds the order by its client order id (one order on the
    exchange, nothing sent again) and journals it ACKED with the exchange's order id."""
    path = tmp_path / "j.db"
    key = sim.config.demo.keys[0]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILL_AFTER_PLACE, sim.url, key.api_key, key.secret, str(path),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -signal.SIGKILL
    order_id = int(out.decode().split()[0])
    assert on_disk(path, "bg-killed") == ("sent", 1)
    posts = sum(r["method"] == "POST" for r in sim.state.requests)
    async with SpotConnector(
        base_url=sim.url, options=FAST.with_(journal_path=path), **credentials(sim)
    ) as bn:
        [found] = await bn.recover()
        assert found is not None and found.order_id == order_id
        entry = bn.journal.get("bg-killed")
        assert entry is not None and (entry.stage, entry.order_id) == (Stage.ACKED, order_id)
    assert sum(r["method"] == "POST" for r in sim.state.requests) == posts  # nothing re-sent
    held = [o for o in await ground_truth(sim) if o["clientOrderId"] == "bg-killed"]
    assert [o["orderId"] for o in held] == [order_id]


def test_a_list_intent_in_the_log_is_applied_with_its_legs(tmp_path: Path) -> None:
    """A list's intent and first send left in the intent log by a crash: the list SENT, every
    leg known by its client order id, for recover() to look up."""
    path = tmp_path / "j.db"
    OrderJournal(path).close()
    record = {
        "t": "l", "l": "list-1", "s": "BTCUSDT", "k": "OTO", "p": '{"symbol":"BTCUSDT"}',
        "legs": [["leg-w", "working"], ["leg-p", "pending"]], "m": 5,
    }  # fmt: skip
    write_log(path, encode_line(record))
    with OrderJournal(path) as j:
        entry = j.lists.get("list-1")
        assert entry is not None and (entry.stage, entry.attempts) == (Stage.SENT, 1)
        assert [(leg.client_order_id, leg.role) for leg in entry.legs] == [
            ("leg-w", "working"),
            ("leg-p", "pending"),
        ]
        assert j.lists.leg_list("leg-p") == "list-1"


async def test_a_list_answered_before_the_commit_is_written_once_as_it_ended(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    with OrderJournal(path, commit_after=60) as j:
        legs = [("leg-w", "working"), ("leg-p", "pending")]
        assert j.lists.record_intent(
            "l1", "BTCUSDT", "OTO", {"a": "1"}, legs, sent=True, fresh=True
        )
        assert j.lists.stage_of("l1") == (Stage.SENT, None)
        j.lists.settle("l1", [("leg-w", 11, "EXPIRED"), ("leg-p", 12, "EXPIRED")],
                       (Stage.FINAL, "ALL_DONE", 7), soon=True)  # fmt: skip
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            assert db.execute("SELECT COUNT(*) FROM lists").fetchone() == (0,)  # not yet
        entry = j.lists.get("l1")  # a read commits it
        assert entry is not None
        assert (entry.stage, entry.status, entry.order_list_id) == (Stage.FINAL, "ALL_DONE", 7)
        assert [(leg.order_id, leg.status) for leg in entry.legs] == [
            (11, "EXPIRED"),
            (12, "EXPIRED"),
        ]
        assert log_size(path) == 0


def test_a_leg_id_used_by_another_list_is_refused(tmp_path: Path) -> None:
    with OrderJournal(tmp_path / "j.db") as j:
        j.lists.record_intent("l1", "BTCUSDT", "OTO", {"a": "1"}, [("leg", "working")], sent=True)
        with pytest.raises(JournalError):
            j.lists.record_intent(
                "l2", "BTCUSDT", "OTO", {"a": "2"}, [("leg", "working")], sent=True
            )
        assert j.lists.get("l2") is None


async def test_a_second_journal_on_a_file_in_use_commits_its_intents_at_once(
    tmp_path: Path,
) -> None:
    """One journal holds a file's intent log; another opened on the same file meanwhile writes
    its intents to SQLite before they leave, and never empties the first one's log."""
    path = tmp_path / "j.db"
    with OrderJournal(path, commit_after=60) as first:
        assert first.record_first_send("a", "BTCUSDT", {"side": "BUY"})
        assert committed(path, "a") is None and log_size(path) > 0
        with OrderJournal(path, commit_after=60) as second:
            assert not second.defers_intents
            assert second.record_first_send("b", "BTCUSDT", {"side": "SELL"})
            assert committed(path, "b") == ("sent", 1)
            assert log_size(path) > 0  # the first one's intent is still there
        assert on_disk(path, "a") == ("sent", 1)


async def test_a_full_intent_log_commits_and_goes_on(tmp_path: Path) -> None:
    """Intents that fill the log: the journal commits what it holds, empties it, and logs on;
    every intent ends up in the file."""
    path = tmp_path / "j.db"
    big = {"side": "BUY", "note": "x" * 100_000}
    with OrderJournal(path, commit_after=60) as j:
        for i in range(SIZE // 100_000 + 5):
            assert j.record_first_send(f"o{i}", "BTCUSDT", big, fresh=True)
        assert committed(path, "o0") == ("sent", 1)  # committed when the log was full
        assert 0 < log_size(path) < SIZE
    with OrderJournal(path) as j:
        assert len(j.pending()) == SIZE // 100_000 + 5
