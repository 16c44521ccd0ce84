"""`kill -9` of a keys-mode gateway mid-order, N times: after each restart nothing is lost or
duplicated (issue 17, item 2: "20 kill -9 of the gateway mid-order lose and duplicate nothing").

Each round: a `binguard gateway --keys` process; a bot (tests/sim/helpers.py `Api`, local key)
places two orders and an OCO list at once, one order with its own client id, the other order
and the list without (the gateway adds them, the list's legs' too); the simulator holds every
one 150 ms before it runs and, half of them, 400 ms after (the answer then lost: the gateway
looks it up); the gateway is killed with SIGKILL (every other round) once the simulator holds
one of them, or 0-250 ms after they left. A new gateway on the same journal settles what was
pending (by query only, order_guard.py), and the bot, which may believe its order failed,
sends it again with the same id: it must get the one order.

Shared by tests/gateway/test_keys_kill9.py (a few kills) and the soak part `gateway-kill9`.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from tests.sim.helpers import Api, limit_buy, oco_sell

from binguard.connector.journal import OrderJournal
from binguard.gateway.keys import write_private

BOT_KEY = "bg-kill-bot"
BOT_SECRET = "bot-kill-secret-" + "4" * 40
WINDOW_MS = 1000  # --order-window: the absence proof takes 1 s + the margin


@dataclass(slots=True)
class KillTally:
    kills: int = 0
    in_flight: int = 0  # journal entries a restarted gateway had to settle
    found: int = 0  # ... of which on the exchange (executed, their answer lost with the kill)
    placed: int = 0  # orders on the simulator at the end
    lists: int = 0  # order lists on the simulator at the end
    lost: int = 0
    duplicated: int = 0
    pending_after: int = 0
    bad_answers: int = 0  # a re-send not answered with the bot's own order
    problems: list[str] = field(default_factory=list)


async def kill_rounds(
    sim_url: str, real: tuple[str, str], workdir: Path, kills: int, seed: int
) -> KillTally:
    """Run `kills` rounds (module docstring) against the simulator at `sim_url`, whose real
    key is `real` (api key, secret); the verdict compares the journal with its ground truth."""
    keys, journal = workdir / "keys.yaml", workdir / "journal.sqlite"
    data = {
        "real": {"main": {"api_key": real[0], "secret": real[1]}},
        "local": [{"api_key": BOT_KEY, "secret": BOT_SECRET, "real": "main"}],
    }
    write_private(keys, yaml.safe_dump(data))
    rng, tally, intents = random.Random(seed), KillTally(), []
    async with aiohttp.ClientSession() as session:
        slow = [
            rule
            for path in ("/api/v3/order", "/api/v3/orderList/oco")
            for rule in (
                {"action": "latency", "path": path, "method": "POST", "latency_ms": 150},
                {"action": "stall_after", "path": path, "method": "POST", "stall_s": 0.4,
                 "probability": 0.5},  # executed, its answer held: a kill then loses it
            )
        ]  # fmt: skip
        await _admin(session, "POST", f"{sim_url}/_sim/faults", {"seed": seed, "rules": slow})
        for n in range(kills):
            mine = f"k{seed % 10000}-{n}"
            intents.append(mine)
            await _round(session, sim_url, keys, journal, workdir, mine, rng, tally)
        truth = await _admin(session, "GET", f"{sim_url}/_sim/orders")
        lists = await _admin(session, "GET", f"{sim_url}/_sim/order_lists")
    _verdict(tally, truth, journal, intents)
    _lists_verdict(tally, lists, journal)
    return tally


async def _round(
    session: aiohttp.ClientSession,
    sim_url: str,
    keys: Path,
    journal: Path,
    workdir: Path,
    mine: str,
    rng: random.Random,
    tally: KillTally,
) -> None:
    proc, url = await start_gateway(sim_url, keys, journal, workdir)
    bot = Api(session, url, BOT_KEY, BOT_SECRET)
    before = len(await _admin(session, "GET", f"{sim_url}/_sim/requests"))
    sent = [asyncio.create_task(bot.order(**_order(c))) for c in (mine, None)]
    sent.append(asyncio.create_task(bot.post("/api/v3/orderList/oco", oco_sell(), signed=True)))
    if tally.kills % 2 == 0:  # once the simulator holds an order, before it answers
        await _until_held(session, sim_url, before)
    else:
        await asyncio.sleep(rng.uniform(0.0, 0.25))
    proc.kill()  # SIGKILL
    await proc.wait()
    await asyncio.gather(*sent, return_exceptions=True)  # answered or cut: the bot can't tell
    tally.kills += 1
    proc, url = await start_gateway(sim_url, keys, journal, workdir)
    try:
        status = await _admin(session, "GET", f"{url}/status")
        tally.in_flight += int(status["orders"].get("recovering", 0))
        again = await Api(session, url, BOT_KEY, BOT_SECRET).order(**_order(mine))
        if again.status != 200 or again.body.get("clientOrderId") != mine:
            tally.bad_answers += 1
            tally.problems.append(f"re-send of {mine}: {again.status} {again.body}")
        deadline = time.monotonic() + 30
        while (orders := (await _admin(session, "GET", f"{url}/status"))["orders"])["unsettled"]:
            if time.monotonic() > deadline:
                tally.problems.append(f"round of {mine}: not settled within 30 s")
                break
            await asyncio.sleep(0.05)
        tally.found += int(orders.get("settled_found", 0))
    finally:
        proc.terminate()
        await proc.wait()


async def _until_held(session: aiohttp.ClientSession, sim_url: str, before: int) -> None:
    """Until the simulator logs an order request it has not answered (its log entry's status
    is 0 until then; sim/pipeline.py), at most 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = await _admin(session, "GET", f"{sim_url}/_sim/requests")
        if any(r["method"] == "POST" and r["status"] == 0 for r in log[before:]):
            return
        await asyncio.sleep(0.005)


def _order(coid: str | None) -> dict[str, str]:
    params = limit_buy("0.001", "20000")
    if coid is not None:
        params["newClientOrderId"] = coid
    return params


def _lists_verdict(tally: KillTally, truth: list[dict[str, Any]], journal: Path) -> None:
    """The same for order lists: each on the exchange journalled with its id and its legs'
    order ids, each journalled as placed on the exchange, no list id twice."""
    tally.lists = len(truth)
    ids = [lst["listClientOrderId"] for lst in truth]
    tally.duplicated += len(ids) - len(set(ids))
    by_id = {lst["listClientOrderId"]: lst for lst in truth}
    with OrderJournal(journal) as j:
        entries = {e.list_client_id: e for e in j.lists.all()}
        tally.pending_after += len(j.lists.pending())
    lost = []
    for key, lst in by_id.items():
        entry = entries.get(key)
        legs = {o["clientOrderId"]: o["orderId"] for o in lst["orders"]}
        journalled = {} if entry is None else {g.client_order_id: g.order_id for g in entry.legs}
        if entry is None or entry.order_list_id != lst["orderListId"] or journalled != legs:
            lost.append(key)
    lost += [k for k, e in entries.items() if e.order_list_id is not None and k not in by_id]
    tally.lost += len(lost)
    tally.problems += [f"list lost: {k}" for k in lost]


def _verdict(tally: KillTally, truth: list[dict[str, Any]], journal: Path, mine: list[str]) -> None:
    """Lost: an order of the bot's not on the exchange, or one on the exchange the journal does
    not hold as placed (with its orderId); duplicated: a client id on the exchange twice. A
    list's legs are its own (`_lists_verdict`)."""
    truth = [o for o in truth if o.get("orderListId", -1) == -1]
    counts: dict[str, int] = {}
    for order in truth:
        counts[order["clientOrderId"]] = counts.get(order["clientOrderId"], 0) + 1
    tally.placed = len(truth)
    tally.duplicated = sum(n - 1 for n in counts.values())
    by_id = {o["clientOrderId"]: o for o in truth}
    with OrderJournal(journal) as j:
        entries = {e.client_order_id: e for e in j.all()}
        tally.pending_after = len(j.pending())
    lost = [c for c in mine if c not in by_id]
    lost += [
        c for c, o in by_id.items() if getattr(entries.get(c), "order_id", None) != o["orderId"]
    ]
    lost += [c for c, e in entries.items() if e.order_id is not None and c not in by_id]
    tally.lost = len(lost)
    tally.problems += [f"lost: {c}" for c in lost]


async def start_gateway(
    sim_url: str, keys: Path, journal: Path, workdir: Path
) -> tuple[asyncio.subprocess.Process, str]:
    """`binguard gateway --keys ...` in a process of its own (its log in `workdir`): the
    process and its URL, from the first line it prints."""
    log = (workdir / "gateway.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "binguard", "gateway", "--upstream", sim_url,
        "--listen", "127.0.0.1:0", "--keys", str(keys), "--journal", str(journal),
        "--cache-ttl", "0", "--order-window", str(WINDOW_MS), "--reconcile-margin", "0.2",
        "--upstream-timeout", "2",
        stdout=asyncio.subprocess.PIPE, stderr=log,
    )  # fmt: skip
    log.close()  # the child holds its own descriptor
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if " on " not in line:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"the gateway did not start: {line!r} (see {workdir}/gateway.log)")
    return proc, line.split(" on ")[1].split(" -> ")[0]


async def _admin(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with session.request(method, url, json=body) as reply:
        reply.raise_for_status()
        return await reply.json()
