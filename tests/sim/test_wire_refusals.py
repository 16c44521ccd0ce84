"""Requests aiohttp refuses before routing, and WebSocket framing violations, over raw sockets.

Each HTTP case gets a Binance JSON error (`{"code", "msg"}`, catalog texts, errors.md) with the
status and code documented in binguard/sim/server.py, never aiohttp's plain-text 400. Each
WebSocket case is a frame RFC 6455 forbids a client to send; the server answers with a close
frame carrying 1002 (protocol error) or 1007 (invalid UTF-8), on every WebSocket face.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import struct

import aiohttp
import pytest

from binguard.sim import Simulator

from .conftest import WS_QUIET
from .helpers import msg, poll

GET = b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\n"
TOO_MANY_PARAMS = (-1101, msg(-1101))
ILLEGAL = (-1100, msg(-1100))
UNSUPPORTED = (-1020, msg(-1020))


async def exchange(sim: Simulator, data: bytes, *, then: bytes = b"") -> tuple[int, bytes, bytes]:
    """Send raw bytes (and `then` once a handler is reading the body); read the whole reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        writer.write(data)
        await writer.drain()
        if then:  # the head was parsed and routed: the body arrives while the handler reads it
            await poll(lambda: _reading_body(sim), bool)
            writer.write(then)
            await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)  # the server closes after a refusal
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


async def _reading_body(sim: Simulator) -> bool:
    server = sim._runner.server if sim._runner is not None else None
    return any(c._current_request is not None for c in (server.connections if server else ()))


CASES = {
    "url over 8190 bytes": (b"GET /api/v3/time?x=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    "header line over 8190 bytes": (GET + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    "129 headers": (GET + b"".join(b"X-H%d: 1\r\n" % i for i in range(129)) + b"\r\n", 431),
    "unknown method": (b"FOO /api/v3/time HTTP/1.1\r\n\r\n", 400),
    "invalid method characters": (b"G@T /api/v3/time HTTP/1.1\r\n\r\n", 400),
    "TLS bytes on the HTTP port": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "bad chunk size": (
        b"POST /api/v3/order HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        400,
    ),
    "bad Content-Length": (b"POST /api/v3/order HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
    "bad HTTP version": (b"GET /api/v3/time HTTP/9.9\r\n\r\n", 400),
    "space in a header name": (GET + b"Bad Header: x\r\n\r\n", 400),
    "Content-Length with chunked": (
        b"POST /api/v3/order HTTP/1.1\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
}
EXPECTED_CODE = {414: TOO_MANY_PARAMS, 431: TOO_MANY_PARAMS}
METHOD_CASES = {"unknown method", "invalid method characters", "TLS bytes on the HTTP port"}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_refusal_is_binance_json(sim: Simulator, case: str) -> None:
    data, status = CASES[case]
    got_status, head, body = await exchange(sim, data)
    assert got_status == status, head
    assert b"content-type: application/json" in head.lower()
    expected = UNSUPPORTED if case in METHOD_CASES else EXPECTED_CODE.get(status, ILLEGAL)
    assert (lambda b: (b["code"], b["msg"]))(json.loads(body)) == expected


async def test_8_mb_of_headers_still_reads_the_error(sim: Simulator) -> None:
    """The server refuses after the first 8 KB; the lingering close lets the client finish
    sending and read the JSON reply (closing at once with 8 MB unread resets the connection)."""
    big = GET + b"".join(b"X-A: " + b"v" * 8000 + b"\r\n" for _ in range(1000)) + b"\r\n"
    status, _, body = await exchange(sim, big)
    assert (status, json.loads(body)["code"]) == (431, -1101)


async def test_bad_chunk_after_the_head_is_1100(sim: Simulator) -> None:
    """The body arrives after the handler started reading it: the guard answers, no bug."""
    head = b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, body = await exchange(sim, head, then=b"zz\r\nab\r\n0\r\n\r\n")
    assert status == 400
    assert json.loads(body)["code"] == -1100
    assert sim.bugs == []


async def test_refusals_log_one_line_each_without_traceback(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for data, _status in CASES.values():
        await exchange(sim, data)
    records = [r for r in caplog.records if r.name.startswith(("binguard.sim", "aiohttp"))]
    assert len(records) == len(CASES)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)


# ----- handler bugs: one line each, with a running count, never a traceback flood -----------
async def test_handler_bug_is_one_counted_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug injected on purpose (a monkeypatch: no real input may make the simulator fail)."""

    def boom(*_args: object) -> None:
        raise RuntimeError("boom\n" + "x" * 1000)

    monkeypatch.setattr("binguard.sim.engine.core.Engine.depth", boom)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    caplog.set_level(logging.INFO, logger="binguard.sim")
    async with Simulator(WS_QUIET) as sim, aiohttp.ClientSession() as session:
        for _ in range(150):
            async with session.get(sim.url + "/api/v3/depth?symbol=BTCUSDT") as r:
                assert r.status == 500
                assert (await r.json())["code"] == -1000
        bugs = list(sim.bugs)
        total = sim.bugs.total
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 150
    assert all(r.exc_info is None for r in lines)
    assert lines[-1].getMessage().startswith("simulator bug #150 on GET /api/v3/depth: ")
    assert all(len(r.getMessage()) < 400 and "\n" not in r.getMessage() for r in lines)
    assert total == 150
    assert len(bugs) == 100  # descriptions kept for tests: bounded


# ----- RFC 6455 framing on every WebSocket face ----------------------------------------------
HANDSHAKE = (
    b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
PING = b'{"id":1,"method":"ping"}'


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0
) -> bytes:
    """One client frame, built by hand (aiohttp's client cannot send broken ones)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    length = bytes([n]) if n < 126 else b"\x7e" + struct.pack("!H", n)
    length = bytes([length[0] | (0x80 if mask else 0)]) + length[1:]
    if not mask:
        return bytes([first]) + length + payload
    key = os.urandom(4)
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return bytes([first]) + length + key + masked


FRAMES = {
    "unmasked text": (frame(1, PING, mask=False), 1002),
    "unmasked after a good frame": (frame(9, b"hi") + frame(1, PING, mask=False), 1002),
    "unmasked 200-byte frame": (frame(1, b" " * 200, mask=False), 1002),
    "unmasked close": (frame(8, struct.pack("!H", 1000), mask=False), 1002),
    "reserved bit 2": (frame(1, PING, rsv=2), 1002),
    "reserved bit 1 without deflate": (frame(1, PING, rsv=4), 1002),
    "ping over 125 bytes": (frame(9, b"a" * 126), 1002),
    "fragmented ping": (frame(9, b"a", fin=False), 1002),
    "reserved opcode 3": (frame(3, b"a"), 1002),
    "continuation first": (frame(0, PING), 1002),
    "new text inside a fragmented one": (frame(1, b"{", fin=False) + frame(1, b"}"), 1002),
    "close with 1-byte payload": (frame(8, b"\x03"), 1002),
    "close code 999": (frame(8, struct.pack("!H", 999)), 1002),
    "invalid UTF-8 text": (frame(1, b"\xff\xfe"), 1007),
}


async def close_code(port: int, path: bytes, data: bytes, split: bool = False) -> int:
    """Open a WebSocket by hand, send `data` (byte by byte if `split`), return the close code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(HANDSHAKE % path)
        assert b" 101 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        for piece in [data[i : i + 1] for i in range(len(data))] if split else [data]:
            writer.write(piece)
            await writer.drain()
        while True:  # skip data frames the server may send first (answers, events)
            first, second = await asyncio.wait_for(reader.readexactly(2), 5)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await reader.readexactly(8))[0]
            payload = await reader.readexactly(n)
            if first & 0x0F == 8:
                return int(struct.unpack("!H", payload[:2])[0])
    finally:
        writer.close()


FACES = [b"/ws-api/v3", b"/ws/btcusdt@trade", b"/stream?streams=btcusdt@trade"]


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("case", sorted(FRAMES))
async def test_framing_violation_closes(wsim: Simulator, face: bytes, case: str) -> None:
    data, code = FRAMES[case]
    assert await close_code(wsim.port, face, data) == code


@pytest.mark.parametrize("face", FACES)
async def test_unmasked_frame_split_byte_by_byte_closes_1002(wsim: Simulator, face: bytes) -> None:
    """Header bytes spread over many reads: the check follows frames across reads. Nothing
    follows the bad header (bytes sent after the server closed would earn a TCP RST)."""
    data = frame(1, b" " * 300) + frame(1, b"", mask=False)
    assert await close_code(wsim.port, face, data, split=True) == 1002


async def test_masked_frames_split_byte_by_byte_still_work(wsim: Simulator) -> None:
    """The check passes good frames through unchanged, whatever the read boundaries."""
    reader, writer = await asyncio.open_connection("127.0.0.1", wsim.port)
    try:
        writer.write(HANDSHAKE % b"/ws-api/v3")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        data = frame(1, b" " * 130 + PING) + frame(1, b'{"id":2,"method":"ping"}')
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
        answers = []
        for _ in range(2):
            _first, second = await asyncio.wait_for(reader.readexactly(2), 5)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            answers.append(json.loads(await reader.readexactly(n)))
        assert [(a["id"], a["status"]) for a in answers] == [(1, 200), (2, 200)]
    finally:
        writer.close()


# ----- a seeded fuzz of request lines and headers: every answer is Binance JSON ----------------
def _mutant(rng: random.Random) -> bytes:
    method = rng.choice([b"GET", b"POST", b"DELETE", b"PUT", b"FOO", b"G@T", b"get", b"\x16\x03"])
    path = rng.choice([b"/api/v3/time", b"/api/v3/order", b"/api/v3/depth", b"/nope", b"*"])
    alphabet = rng.choice([b"abc=&", b"abc=&%?#/\\\x00\x7f\xff "])
    query = bytes(rng.choice(alphabet) for _ in range(rng.choice([0, 10, 9000])))
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b"HTTX/1.1"])
    headers = [b"Host: x", b"Connection: close"]  # a request served whole ends the connection too
    for _ in range(rng.choice([0, 3, 130])):
        name = rng.choice([b"X-A", b"Bad Name", b"X-MBX-APIKEY", b"\xff"])
        headers.append(name + b": " + b"v" * rng.choice([1, 100, 9000]))
    return (
        method
        + b" "
        + path
        + b"?"
        + query
        + b" "
        + version
        + b"\r\n"
        + b"\r\n".join(headers)
        + b"\r\n\r\n"
    )


async def test_fuzzed_requests_all_get_binance_json(sim: Simulator) -> None:
    """300 seeded mutants of the request line and headers: no plain text, no 500, no bug."""
    rng = random.Random(12)
    statuses: set[int] = set()
    for _ in range(300):
        status, head, body = await exchange(sim, _mutant(rng))
        assert b"content-type: application/json" in head.lower(), head
        reply = json.loads(body)
        assert status < 500, reply
        if status >= 400:
            assert isinstance(reply["code"], int) and isinstance(reply["msg"], str), reply
        statuses.add(status)
    assert {400, 414, 431} <= statuses
    assert sim.bugs == []
