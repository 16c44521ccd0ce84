"""Hostile input: raw HTTP and WebSocket traffic to the simulator, odd objects to `classify()`,
odd files to the doctor. Nothing may crash, hang, answer 500, answer a non-JSON error, or leak.

Each input is drawn from a seeded generator, so a failure can be replayed with the same `--seed`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from bench._common import SimProcess

from binguard.errors import BinanceError, classify
from binguard.sim import FlowConfig, SimConfig

from ._common import Clock, PartResult, rss_mb

PATHS = (
    "/api/v3/order", "/api/v3/depth", "/api/v3/klines", "/api/v3/ticker/24hr", "/api/v3/account",
    "/api/v3/exchangeInfo", "/api/v3/openOrders", "/api/v3/myTrades", "/api/v3/time",
    "/api/v3/order/cancelReplace", "/api/v3/orderList/oco", "/sapi/v1/capital/config/getall",
    "/", "/api", "/api/v3/", "/api/v3/../../etc/passwd", "/%00", "/api/v3/order%2f",
)  # fmt: skip
METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD", "BREW", "GE T", "get")
KEYS = ("symbol", "side", "type", "quantity", "price", "timestamp", "signature", "limit",
        "interval", "startTime", "recvWindow", "timeInForce", "newClientOrderId")  # fmt: skip
HANG_S = 3.0  # no answer (nor close) this long after a whole request was sent: a hang
SECRET_MARK = "S3CR3T-soak-never-shown"


@dataclass(slots=True)
class _Http:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    non_json_errors: list[str] = field(default_factory=list)
    hangs: int = 0
    hung: list[str] = field(default_factory=list)
    closed_without_answer: int = 0


def _junk(rng: random.Random, n: int) -> str:
    pool = "abcXYZ019-_.~%&=+/?#[]{}\"' \t<>\\;:,é€𝟘\u200b\x00\x7f"
    return "".join(rng.choice(pool) for _ in range(n))


def _value(rng: random.Random) -> str:
    return rng.choice([
        "1", "-1", "0", "0.00000001", "1e999999999", "NaN", "inf", "²", "١٢٣", "9" * 400,
        "BTCUSDT", "btcusdt", "LIMIT", "GTC", "", " ", "true", "[1,2]", '{"a":1}', _junk(rng, 20),
        "%", "%zz", "\u0000", "x" * rng.choice((10, 1000, 9000)),
    ])  # fmt: skip


def _request(rng: random.Random) -> bytes:
    """One hostile HTTP/1.1 request, as bytes on the wire."""
    method = rng.choice(METHODS)
    path = rng.choice(PATHS)
    if rng.random() < 0.1:
        path = "/" + _junk(rng, rng.choice((5, 50, 9000)))
    keys = [*KEYS, _junk(rng, 5)]
    query = "&".join(f"{rng.choice(keys)}={_value(rng)}" for _ in range(rng.randrange(0, 8)))
    target = f"{path}?{query}" if query else path
    headers = ["Host: 127.0.0.1", "Connection: close"]
    if rng.random() < 0.5:
        headers.append(f"X-MBX-APIKEY: {rng.choice(['abc', _junk(rng, 64), 'é'])}")
    if rng.random() < 0.05:
        headers += [f"X-Junk-{i}: {i}" for i in range(rng.choice((50, 200)))]
    if rng.random() < 0.05:
        headers.append("X-Long: " + "a" * rng.choice((9000, 20000)))
    body = b""
    if method in ("POST", "PUT", "DELETE") and rng.random() < 0.6:
        body = rng.choice([query.encode(), b"\xff\xfe\x00junk", b"{" * 3000, os.urandom(64)])
        headers.append(rng.choice(["Content-Type: application/x-www-form-urlencoded",
                                   "Content-Type: application/json", "Content-Type: é"]))  # fmt: skip
    if body and rng.random() < 0.2:  # bad chunking
        headers.append("Transfer-Encoding: chunked")
        body = rng.choice([b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nab\r\n", b"fffffffff\r\n"])
    elif body:
        headers.append(f"Content-Length: {len(body)}")  # a short body would wait, as it should
    head = f"{method} {target} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n"
    return head.encode("utf-8", "surrogateescape") + body


def _read_answer(sock: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    else:
        raise TimeoutError
    return b"".join(chunks)


def _judge_answer(raw: bytes, tally: _Http, request: bytes) -> None:
    if not raw:
        tally.closed_without_answer += 1
        return
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        tally.non_json_errors.append(f"no status line: {raw[:80]!r}")
        return
    tally.statuses[status] += 1
    head_request = request.split(b" ", 1)[0] == b"HEAD"  # a HEAD answer has no body (RFC 9110)
    if status >= 400 and not head_request and b"transfer-encoding: chunked" not in head.lower():
        try:
            data = orjson.loads(body)
            ok = isinstance(data, dict) and isinstance(data.get("code"), int) and "msg" in data
        except orjson.JSONDecodeError:
            ok = False
        if not ok:
            tally.non_json_errors.append(f"{status} {body[:80]!r} for {request[:60]!r}")


def _http_worker(port: int, seed: int, count: int) -> _Http:
    rng, tally = random.Random(seed), _Http()
    for _ in range(count):
        request = _request(rng)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(0.5)
            tally.sent += 1
            try:
                sock.sendall(request)
                # A chunked body here may be cut short (the request is not whole): the client then
                # says it is done sending, as it would by closing; so do 10 % of the others.
                if b"Transfer-Encoding: chunked" in request or rng.random() < 0.1:
                    sock.shutdown(socket.SHUT_WR)
                raw = _read_answer(sock, time.monotonic() + HANG_S)
            except TimeoutError:
                tally.hangs += 1
                tally.hung.append(repr(request[:60] + b" ... " + request[-90:]))
                continue
            except (BrokenPipeError, ConnectionResetError):
                raw = b""
            _judge_answer(raw, tally, request)
    return tally


async def _ws_hostile(url: str, seed: int, count: int) -> tuple[int, int, list[str]]:
    """Hostile WebSocket API and stream messages; returns (sent, hangs, non-JSON answers)."""
    rng = random.Random(seed)
    sent, hangs, bad = 0, 0, []
    messages: list[Callable[[], str | bytes]] = [
        lambda: _junk(rng, 30),
        lambda: "[" * 5000,
        lambda: orjson.dumps({"id": _value(rng), "method": rng.choice(
            ["order.place", "depth", "klines", "session.logon", "SUBSCRIBE", "x"]),
            "params": {"symbol": _value(rng), "limit": _value(rng)}}).decode(),
        lambda: orjson.dumps({"method": "SUBSCRIBE", "params": [_junk(rng, 12)], "id": 1}).decode(),
        lambda: os.urandom(32),
    ]  # fmt: skip
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            path = rng.choice(["/ws-api/v3", "/ws", "/ws/btcusdt@trade", "/stream?streams=x"])
            try:
                async with session.ws_connect(
                    url + path, timeout=aiohttp.ClientWSTimeout(ws_close=2)
                ) as ws:
                    message = rng.choice(messages)()
                    sent += 1
                    await (
                        ws.send_bytes(message)
                        if isinstance(message, bytes)
                        else ws.send_str(message)
                    )
                    try:
                        answer = await asyncio.wait_for(ws.receive(), 5)
                    except TimeoutError:
                        if path.startswith("/ws-api"):
                            hangs += 1
                        continue
                    if answer.type == aiohttp.WSMsgType.TEXT:
                        try:
                            orjson.loads(answer.data)
                        except orjson.JSONDecodeError:
                            bad.append(str(answer.data)[:80])
            except aiohttp.WSServerHandshakeError as e:
                if e.status >= 500:
                    bad.append(f"handshake {e.status} on {path}")
            if i % 500 == 0:
                await asyncio.sleep(0)
    return sent, hangs, bad  # fmt: skip


def run_http(seed: int, count: int) -> PartResult:
    result = PartResult("hostile-sim")
    began = time.monotonic()
    clock = Clock()
    with SimProcess(SimConfig(seed=seed, flow=FlowConfig(interval_ms=0))) as sim:
        before = rss_mb(sim.pid)
        ws_count = count // 5
        http = _Http()
        step = max(1, (count - ws_count) // 20)
        for k, start in enumerate(range(0, count - ws_count, step)):
            part = _http_worker(sim.port, seed + k, min(step, count - ws_count - start))
            http.sent += part.sent
            http.statuses.update(part.statuses)
            http.non_json_errors += part.non_json_errors
            http.hangs += part.hangs
            http.hung += part.hung
            http.closed_without_answer += part.closed_without_answer
            result.series.add(clock(), rss_sim=rss_mb(sim.pid), inputs=http.sent)
        ws_url = sim.url.replace("http://", "ws://")
        ws_sent, ws_hangs, ws_bad = asyncio.run(_ws_hostile(ws_url, seed, ws_count))
        alive = _answers(sim.url + "/api/v3/ping")
        after = rss_mb(sim.pid)
    result.figures.update({
        "HTTP requests / WebSocket attempts": f"{http.sent:,} / {ws_count:,}",
        "WebSocket messages (upgraded)": f"{ws_sent:,} (other paths refused at the handshake)",
        "statuses": ", ".join(f"{s}×{n}" for s, n in sorted(http.statuses.items())),
        "closed without an answer": str(http.closed_without_answer),
        "sim RSS": f"{before:.0f}→{after:.0f} MB",
        "first non-JSON error": (http.non_json_errors + ws_bad + ["-"])[0][:60],
        "first hang": [*http.hung, "-"][0][:60],
    })  # fmt: skip
    result.zero("500 answers", http.statuses.get(500, 0))
    result.zero("non-JSON error answers", len(http.non_json_errors) + len(ws_bad))
    result.zero("hangs", http.hangs + ws_hangs)
    result.check("simulator alive afterwards", int(alive), alive, "= 1")
    result.seconds = time.monotonic() - began
    return result


def _answers(url: str) -> bool:
    """The simulator still answers HTTP: any status counts (after thousands of hostile requests
    its IP may rightly be rate limited or banned: a 429 or 418 is an answer too)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return bool(reply.status == 200)
    except urllib.error.HTTPError as e:
        return e.code in (429, 418)
    except OSError:
        return False


# -- classify() ---------------------------------------------------------------------------------
class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


def _hostile_object(rng: random.Random) -> tuple[object, bool]:
    """An input for classify() and whether it is certainly an error (so None would be wrong)."""
    code = rng.choice([-1021, -1003, -2010, -1007, 429, "x", None, 10**30, -1.5])
    kind = rng.randrange(9)
    if kind == 0:
        return os.urandom(rng.randrange(0, 200)), False
    if kind == 1:
        body = {"code": code, "msg": rng.choice([_junk(rng, 30), f"signature={SECRET_MARK}"])}
        return orjson.dumps(
            body, option=orjson.OPT_NON_STR_KEYS
        ) if code != 10**30 else b"{}", False
    if kind == 2:
        return f"ERROR code={code} {_junk(rng, 40)} signature={SECRET_MARK}", False
    if kind == 3:
        e = _UnprintableError()
        e.code = -1021  # type: ignore[attr-defined]
        return e, True
    if kind == 4:
        err = ConnectionResetError(104, "reset")
        err.errno = [104]  # type: ignore[assignment]  # unhashable
        return err, True
    if kind == 5:
        a, b = ValueError(f"signature={SECRET_MARK}"), ConnectionError("boom")
        a.__cause__, b.__cause__ = b, a  # a cycle: classify must end, typed or None
        return a, False
    if kind == 6:
        return rng.choice(
            [None, 0, 1.5, [], {}, object(), {"code": code}, b"", "", "\x00" * 10]
        ), False
    if kind == 7:
        return TimeoutError(_junk(rng, 20)), True
    return _junk(rng, rng.choice((1, 100, 70000))), False  # fmt: skip


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname} {record.getMessage()}")


def run_classify(seed: int, count: int) -> PartResult:
    result = PartResult("hostile-classify")
    began = time.monotonic()
    rng, capture = random.Random(seed), _Capture()
    logging.getLogger("binguard").addHandler(capture)
    raised, wrong_none, leaks, slow = 0, 0, 0, 0
    started = time.perf_counter()
    try:
        for _ in range(count):
            x, is_error = _hostile_object(rng)
            t0 = time.perf_counter()
            try:
                err = classify(x)
            except Exception:  # noqa: BLE001  # the invariant: classify never raises
                raised += 1
                continue
            slow += time.perf_counter() - t0 > 1.0
            if err is None:
                wrong_none += is_error
            elif not isinstance(err, BinanceError):
                raised += 1
            elif SECRET_MARK in f"{err} {err!r} {err.msg}":
                leaks += 1
    finally:
        logging.getLogger("binguard").removeHandler(capture)
    failures = [r for r in capture.records if "classify failed" in r]
    result.figures.update(
        {"inputs": f"{count:,}", "seconds": f"{time.perf_counter() - started:.1f}"}
    )
    result.zero("raised", raised)
    result.zero("None for a real error", wrong_none)
    result.zero("internal failures logged", len(failures))
    result.zero("secrets in the typed error", leaks)
    result.zero("inputs over 1 s", slow)
    result.zero("secrets in log lines", sum(SECRET_MARK in r for r in capture.records))
    result.seconds = time.monotonic() - began
    return result


# -- the doctor ---------------------------------------------------------------------------------
def _doctor_inputs(root: Path, count: int, rng: random.Random) -> list[list[str]]:
    """`count` doctor invocations over odd inputs (FIFOs, devices, binary, huge lines ...)."""
    made: list[list[str]] = []
    fifo = root / "fifo"
    os.mkfifo(fifo)
    mixed = root / "dir"
    mixed.mkdir()
    os.mkfifo(mixed / "pipe.log")
    (mixed / "ok.log").write_text(
        "ERROR APIError(code=-1021): Timestamp for this request is outside of the recvWindow.\n"
    )
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(mixed / "sock"))
    (root / "empty").mkdir()
    files = {
        "binary.log": os.urandom(200_000),
        "nul.log": b"\x00" * 10_000 + b"code=-1003\n",
        "long-line.log": b"x" * 5_000_000 + b" code=-1021\n",
        "latin1.log": "ERROR código=-2010 naïve é".encode("latin-1"),
        "crlf.log": b"ERROR 429 Too Many Requests\r\n" * 1000,
        "secret.log": f"GET /api/v3/order?signature={SECRET_MARK} -> 400 code=-1022\n".encode(),
        "json.log": b'{"code": -1021, "msg": ' + b"[" * 10000 + b"\n",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    candidates = [[str(fifo)], [str(mixed)], [str(root / "empty")], ["/dev/zero"], ["/dev/null"],
                  [str(root / "missing.log")], ["--no-such-flag"], [str(root)]]  # fmt: skip
    candidates += [[str(root / n)] for n in files] + [[str(root / n), "--json"] for n in files]
    while len(made) < count:
        made.append(
            rng.choice(candidates) if len(made) >= len(candidates) else candidates[len(made)]
        )
    _ = listener  # kept open while the doctor runs
    return made


def run_doctor(seed: int, count: int) -> PartResult:
    result = PartResult("hostile-doctor")
    began = time.monotonic()
    rng = random.Random(seed)
    tracebacks, hangs, leaks, codes = 0, 0, 0, Counter[int]()
    with tempfile.TemporaryDirectory() as tmp:
        for argv in _doctor_inputs(Path(tmp), count, rng):
            try:
                done = subprocess.run(
                    [sys.executable, "-m", "binguard", "doctor", "--no-progress", *argv],
                    capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                hangs += 1
                continue
            codes[done.returncode] += 1
            out = done.stdout + done.stderr
            tracebacks += b"Traceback (most recent call last)" in out
            leaks += SECRET_MARK.encode() in out
    statuses = ", ".join(f"{k}×{v}" for k, v in sorted(codes.items()))
    result.figures.update({"invocations": str(count), "exit statuses": statuses})
    result.zero("tracebacks", tracebacks)
    result.zero("hangs (60 s)", hangs)
    result.zero("secrets printed", leaks)
    result.seconds = time.monotonic() - began
    return result
