"""classify() on a realistic mix of Binance response bodies, next to json.loads on the same bodies.

Goal (issue 2): classify() costs at most 2x stdlib json.loads. Both run over the same list of bytes
bodies in the same process; the figure is the best of several rounds (least disturbed by the OS).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from binguard.errors import classify

ERROR_BODIES = [
    b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
    b'{"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server\'s time."}',
    b'{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}',
    b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans."}',
    b'{"code":-1015,"msg":"Too many new orders; current limit is 50 orders per 10 SECOND."}',
    b'{"code":-2010,"msg":"Account has insufficient balance for requested action."}',
    b'{"code":-2010,"msg":"Order would immediately match and take."}',
    b'{"code":-2011,"msg":"Unknown order sent."}',
    b'{"code":-2013,"msg":"Order does not exist."}',
    b'{"code":-1013,"msg":"Filter failure: PRICE_FILTER"}',
    b'{"code":-1013,"msg":"Filter failure: LOT_SIZE"}',
    b'{"code":-1102,"msg":"Mandatory parameter \'quantity\' was not sent, was empty/null, or malformed."}',
    b'{"code":-1121,"msg":"Invalid symbol."}',
    b'{"code":-1022,"msg":"Signature for this request is not valid."}',
    b'{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}',
    b'{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}',
]
# Bodies no cache can help with: each ban carries its own end time (1 in 6 bodies of the mix).
BAN_TEMPLATE = (
    b'{"code":-1003,"msg":"Way too much request weight used; IP banned until %d. Please use '
    b'WebSocket Streams for live updates to avoid bans."}'
)
UNIQUE_BANS = [BAN_TEMPLATE % (1659146400000 + i * 1000) for i in range(20)]
# Weighted like a bot's failures: clock and order rejections dominate, then bans and limits.
RECURRING = ERROR_BODIES * 4 + ERROR_BODIES[:6] * 6 + ERROR_BODIES[-4:] * 2
MIX = RECURRING + UNIQUE_BANS


def _batches(reps: int, round_no: int) -> list[list[bytes]]:
    """`reps` copies of the mix in which every ban body has an end time never seen before."""
    out = []
    for rep in range(reps):
        stamp = 1_700_000_000_000 + (round_no * reps + rep) * 100
        fresh = [BAN_TEMPLATE % (stamp + i) for i in range(len(UNIQUE_BANS))]
        out.append(RECURRING + fresh)
    return out


def _best(fn: Callable[[bytes], object], rounds: int = 7, reps: int = 200) -> float:
    best = float("inf")
    for r in range(rounds):
        batches = _batches(reps, r)
        start = time.perf_counter()
        for batch in batches:
            for body in batch:
                fn(body)
        best = min(best, time.perf_counter() - start)
    return best / (reps * len(MIX))


def run() -> None:
    for body in MIX:  # warm caches (template regexes compile on first use)
        assert classify(body) is not None
    t_json = _best(json.loads)
    t_classify = _best(classify)
    print(
        f"bodies in mix:          {len(MIX)} ({len(ERROR_BODIES)} recurring error bodies, "
        f"{len(UNIQUE_BANS)} ban bodies with fresh end times)"
    )
    print(f"json.loads:             {t_json * 1e6:7.2f} µs/body")
    print(f"binguard classify():    {t_classify * 1e6:7.2f} µs/body (typed error with params)")
    ratio = t_classify / t_json
    print(
        f"ratio classify/json:    {ratio:7.2f}x   (goal <= 2.00x: {'PASS' if ratio <= 2 else 'FAIL'})"
    )
