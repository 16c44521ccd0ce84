"""`binguard doctor`: scan speed next to GNU grep on the same 200 MB log, and 0 missed error lines.

Generates a log of at least 200 MB in a temporary directory (deleted afterwards): mixed Hummingbot,
freqtrade, python-binance, ccxt, JSON-lines and official-SDK lines, tracebacks included, with about
1 % of the lines reporting a Binance error or a network failure, among them lines that carry no
"code" word: `WARNING 429 Too Many Requests: GET /api/v3/depth`, bare HTTP statuses, and `-1003` /
`-1021` written bare. Then, in the same run, on the same (page-cached) file, best of three:

- grep:   `grep -c code FILE` (a subprocess; GNU grep's start-up is about a millisecond);
- doctor: the in-process API, `scan()` + `explain()` (read, prefilter, classify, group, diagnose),
          without rendering: the interpreter's start-up is excluded, and measured on its own below.

Goals, one line each with PASS or FAIL (the command exits 1 when any fails):

1. speed: doctor >= 0.5x grep's speed (at most 2x grep's time);
2. missed: the doctor's error lines == the ground truth, the same recognizer run on EVERY line of
   the file (Scanner with the EveryLine prefilter), so the prefilter skipped no error line.

Start-up is printed apart: `python -c pass`, `import binguard.doctor`, and the CLI on a one-line
file; the CLI on the whole file is timed once, for the record.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ._goals import goal

T = TypeVar("T")

TARGET_BYTES = 200_000_000
ERROR_RATE = 0.01
SPEED_GOAL = 0.5

_NORMAL = (
    "{ts} - 4242 - hummingbot.strategy.pure_market_making.pure_market_making - INFO - "
    "Created LIMIT BUY order buy-BTCUSDT-{n} for 0.00{a} BTC-USDT at 6{a}.{b}.",
    "{ts} - 4242 - hummingbot.core.web_assistant.rest_assistant - INFO - REQ: "
    "https://api.binance.com/api/v3/order | GET | {{'symbol': 'BTCUSDT', 'origClientOrderId': "
    "'x-XEKWYICX-BBTUT{n}'}} | None",
    "{ts} - 4242 - hummingbot.connector.client_order_tracker - INFO - The BUY order buy-{n} "
    "amounting to 0.00{a}/0.00{a} BTC has been filled at 6{a}.{b} USDT.",
    "{ts} - freqtrade.worker - INFO - Bot heartbeat. PID={a}, version='2024.10', state='RUNNING'",
    "{ts} - freqtrade.freqtradebot - INFO - Found open order for Trade(id={a}, pair=ETH/USDT, "
    "amount=0.0{b}, open_rate=3{a}.{b}, open_since={ts})",
    "{ts} INFO mybot.engine tick={n} mid=6{a}.{b} spread=0.0{b}% inventory=0.{a} orders=4 lat_ms={b}",
    '{{"ts": {ms}, "level": "info", "event": "book_update", "symbol": "BTCUSDT", "bid": 6{a}.{b}, '
    '"ask": 6{a}.{b}, "seq": {n}}}',
    '{ts} DEBUG websockets.client < TEXT \'{{"e":"trade","E":{ms},"s":"BTCUSDT","t":{n},'
    '"p":"6{a}.{b}"}}\' [{a} bytes]',
    # near misses: a negative offset, an HTTP 200, an order id with digits
    "{ts} INFO mybot.clock offset=-10{b}ms rtt={b}ms status=200 order=sell-ETHUSDT-1{a}",
)
_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/home/bot/venv/lib/python3.11/site-packages/binance/client.py", line 410, in _request',
    "    return self._handle_response(self.response)",
)
_ERRORS = (
    "{ts} - 4242 - x - ERROR - binance.exceptions.BinanceAPIException: APIError(code=-1021): "
    "Timestamp for this request is outside of the recvWindow.",
    "OSError: Error executing request POST https://api.binance.com/api/v3/order. HTTP status is "
    '400. Error: {{"code":-2010,"msg":"Account has insufficient balance for requested action."}}',
    '{ts} - freqtrade.exchange.common - WARNING - fetch_ticker() returned exception: "Could not '
    "load ticker due to DDosProtection. Message: binance GET https://api.binance.com/api/v3/ticker/"
    '24hr?symbol=BTCUSDT 429 Too Many Requests {{"code":-1003,"msg":"Too much request weight '
    "used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live "
    'updates to avoid polling the API."}}". Retrying still for 3 times.',
    'ccxt.base.errors.InvalidNonce: binance {{"code":-1021,"msg":"Timestamp for this request '
    "was 1000ms ahead of the server's time.\"}}",
    "{ts} - 4242 - hummingbot.core.utils.async_call_scheduler - WARNING - API call error: "
    "('Connection aborted.', OSError(\"(104, 'ECONNRESET')\",))",
    "AttributeError: 'TimeoutError' object has no attribute 'code'",
    '{{"ts": {ms}, "level": "error", "event": "order failed", "error": {{"code": -1013, '
    '"msg": "Filter failure: LOT_SIZE"}}}}',
    "binance.error.ClientError: (400, -2013, 'Order does not exist.', {{'Content-Type': "
    "'application/json'}})",
    "{ts} ERROR mybot requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.binance.com', "
    "port=443): Read timed out. (read timeout=10)",
    # lines without the word "code" (issue 18): a status alone, a bare code
    "{ts} WARNING 429 Too Many Requests: GET /api/v3/depth?symbol=BTCUSDT&limit=1000",
    "{ts} ERROR mybot.rest HTTP 503 Service Unavailable: POST /api/v3/order",
    "{ts} WARNING mybot.rest GET /api/v3/account -> 502 Bad Gateway",
    "{ts} WARNING binance -1021: Timestamp for this request was 1000ms ahead of the server's time.",
    "{ts} WARNING mybot rate limited (-1003), backing off 30 s",
)


def generate(path: Path, target: int = TARGET_BYTES, seed: int = 7) -> tuple[int, int]:
    """Write the log; returns (lines, error lines)."""
    rnd = random.Random(seed)
    t = 1_709_251_200.0  # 2024-03-01 00:00:00 UTC
    lines = errors = size = 0
    stamp_second = -1
    stamp_prefix = ""
    with path.open("w", encoding="utf-8") as out:
        buf: list[str] = []
        while size < target:
            t += rnd.random() * 0.02
            sec = int(t)
            if sec != stamp_second:
                stamp_second = sec
                stamp_prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
            ms = int(t * 1000)
            fields = {
                "ts": f"{stamp_prefix},{ms % 1000:03d}",
                "ms": ms,
                "n": lines,
                "a": rnd.randrange(100, 999),
                "b": rnd.randrange(10, 99),
            }
            if rnd.random() < ERROR_RATE:
                template = rnd.choice(_ERRORS)
                if not template.startswith(("{ts}", '{{"ts"')):
                    buf.append(_TRACEBACK[0])
                    buf.extend(_TRACEBACK[1:])
                    lines += len(_TRACEBACK)
                errors += 1
            else:
                template = rnd.choice(_NORMAL)
            line = template.format(**fields)
            buf.append(line)
            lines += 1
            if len(buf) >= 4096:
                text = "\n".join(buf) + "\n"
                out.write(text)
                size += len(text)
                buf.clear()
        if buf:
            out.write("\n".join(buf) + "\n")
    return lines, errors


def _best(fn: Callable[[], T], runs: int = 3) -> tuple[float, T]:
    best = float("inf")
    result = fn()  # the first run warms caches and is not timed
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _seconds(cmd: list[str], runs: int = 5) -> float:
    """Best wall time of a command, its output discarded."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - started)
    return best


def _startup(tmp: Path) -> None:
    """What a doctor run pays before reading a byte: the interpreter, our imports, the CLI."""
    one = tmp / "one.log"
    one.write_text("2024-03-01 00:00:00 INFO nothing to report\n")
    py = sys.executable
    bare = _seconds([py, "-c", "pass"])
    imp = _seconds([py, "-c", "import binguard.doctor"])
    cli = _seconds([py, "-m", "binguard", "doctor", "--json", str(one)])
    print(
        f"start-up (excluded from goal 1): python -c pass {bare:.3f} s; import binguard.doctor "
        f"{imp:.3f} s; `binguard doctor --json` on a one-line file {cli:.3f} s"
    )


def run() -> None:
    """Print one line per goal (bench._goals)."""
    from binguard.doctor import Scanner, expand, explain, scan
    from binguard.doctor._prefilter import EveryLine, default

    grep = shutil.which("grep")
    if grep is None:
        goal("doctor scan speed vs GNU grep", "not measured", "grep not found", "a peer", False)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_doctor_"))
    try:
        log = tmp / "bot.log"
        started = time.perf_counter()
        lines, errors = generate(log)
        size = log.stat().st_size
        print(
            f"generated {size / 1e6:.0f} MB, {lines:,} lines, {errors:,} error lines "
            f"({errors / lines:.2%}) in {time.perf_counter() - started:.1f} s; "
            f"prefilter engine: {default().name}"
        )
        _startup(tmp)

        def grep_count() -> str:
            out = subprocess.run([grep, "-c", "code", str(log)], capture_output=True, check=False)
            return out.stdout.decode().strip()

        def doctor_scan() -> int:
            scanner = Scanner()
            report = explain(scanner, scan(expand([str(log)]), scanner))
            return report.error_lines

        t_grep, matched = _best(grep_count)
        t_doc, found = _best(doctor_scan)
        t_cli = _seconds([sys.executable, "-m", "binguard", "doctor", "--json", str(log)], 1)
        ratio = t_grep / t_doc
        goal(
            "doctor scan speed vs GNU grep",
            f"doctor {t_doc:.3f} s ({size / t_doc / 1e6:,.0f} MB/s) = {ratio:.2f}x grep's speed",
            f"grep -c code {t_grep:.3f} s ({size / t_grep / 1e6:,.0f} MB/s, {matched} lines)",
            f">= {SPEED_GOAL}x",
            ratio >= SPEED_GOAL,
        )
        print(f"(the whole CLI, --json to /dev/null, start-up included: {t_cli:.3f} s, once)")

        truth_started = time.perf_counter()
        every = Scanner(prefilter=EveryLine())
        truth = explain(every, scan(expand([str(log)]), every)).error_lines
        missed = truth - found
        goal(
            "doctor missed error lines",
            f"doctor {found:,} error lines, missed {missed}",
            f"the recognizer on every line {truth:,} "
            f"({time.perf_counter() - truth_started:.0f} s); generated {errors:,}",
            "0 missed",
            missed == 0 and found >= errors,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
