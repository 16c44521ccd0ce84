"""`binguard doctor` scan speed next to GNU `grep -c code` on the same generated log.

Generates a log of at least 200 MB in a temporary directory (deleted afterwards): mixed Hummingbot,
freqtrade, python-binance, ccxt, JSON-lines and official-SDK lines, tracebacks included, with about
1 % of the lines reporting a Binance error or a network failure. Then, in the same run and on the
same (page-cached) file, best of three:

- grep:   `grep -c code FILE` (a subprocess);
- doctor: the in-process API, `scan()` + `explain()` (read, prefilter, classify, group, diagnose),
          without rendering a report. The CLI with `--json > /dev/null` is timed once as well.

Goal: doctor at least 0.25x grep's speed, i.e. at most 4x grep's time.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

TARGET_BYTES = 200_000_000
ERROR_RATE = 0.01
GOAL = 0.25

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


def run() -> None:
    from binguard.doctor import Scanner, expand, explain, scan

    grep = shutil.which("grep")
    if grep is None:
        print("grep not found: cannot compare")
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_doctor_"))
    try:
        log = tmp / "bot.log"
        started = time.perf_counter()
        lines, errors = generate(log)
        size = log.stat().st_size
        print(
            f"generated {size / 1e6:.0f} MB, {lines:,} lines, {errors:,} error lines "
            f"({errors / lines:.2%}) in {time.perf_counter() - started:.1f} s"
        )

        def grep_count() -> str:
            out = subprocess.run([grep, "-c", "code", str(log)], capture_output=True, check=False)
            return out.stdout.decode().strip()

        def doctor_scan() -> tuple[int, int]:
            scanner = Scanner()
            inputs = scan(expand([str(log)]), scanner)
            report = explain(scanner, inputs)
            return report.error_lines, len(report.findings)

        def doctor_cli() -> int:
            with open(os.devnull, "w") as devnull:
                return subprocess.run(
                    [sys.executable, "-m", "binguard", "doctor", "--json", str(log)],
                    stdout=devnull,
                    check=False,
                ).returncode

        t_grep, matched = _best(grep_count)
        t_doc, (found, findings) = _best(doctor_scan)
        t_cli, _ = _best(doctor_cli, runs=1)
        print(
            f"grep -c code      {t_grep:7.3f} s  {size / t_grep / 1e6:7.0f} MB/s  ({matched} lines)"
        )
        print(
            f"doctor scan (API) {t_doc:7.3f} s  {size / t_doc / 1e6:7.0f} MB/s  "
            f"({found:,} error lines, {findings} findings; scan + findings + diagnoses, no rendering)"
        )
        print(f"doctor CLI --json {t_cli:7.3f} s  (whole command incl. start-up and JSON, once)")
        ratio = t_grep / t_doc
        verdict = "meets" if ratio >= GOAL else "MISSES"
        print(
            f"speed ratio doctor/grep = {ratio:.2f}x (doctor takes {t_doc / t_grep:.1f}x grep's "
            f"time); goal >= {GOAL}x: {verdict}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run()
