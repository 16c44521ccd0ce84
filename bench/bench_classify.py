"""classify() on a realistic mix of Binance response bodies, next to json.loads on the same bodies.

Goal (issue 18, goal 6): classify(bytes) costs at most 1.0x stdlib json.loads, which only parses
where classify() also types the error and reads its parameters. Both run over the same bodies in
the same process, in interleaved rounds; each figure is its best round (least disturbed by the OS).
Every round's ban bodies carry end times never seen before, so no cache can serve them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bench._goals import goal
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
    """`reps` copies of the mix in which every ban body has an end time never seen before.
    Each body is a bytes object of its own, as one read off a socket is (nothing hashed yet)."""
    out = []
    for rep in range(reps):
        stamp = 1_700_000_000_000 + (round_no * reps + rep) * 100
        fresh = [BAN_TEMPLATE % (stamp + i) for i in range(len(UNIQUE_BANS))]
        out.append([bytes(bytearray(body)) for body in RECURRING] + fresh)
    return out


def _round(fn: Callable[[bytes], object], batches: list[list[bytes]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        for body in batch:
            fn(body)
    return time.perf_counter() - start


def _best_pair(rounds: int = 9, reps: int = 200) -> tuple[float, float]:
    """(json.loads, classify) seconds per body, best of `rounds` interleaved rounds."""
    best_json = best_classify = float("inf")
    for r in range(rounds):
        batches = _batches(reps, r)
        best_json = min(best_json, _round(json.loads, batches))
        # classify() gets bodies it has not seen either: the same ban end times as json.loads
        # saw, but never classified before.
        best_classify = min(best_classify, _round(classify, batches))
    n = reps * len(MIX)
    return best_json / n, best_classify / n


def run() -> None:
    for body in MIX:  # warm caches (template regexes compile on first use)
        assert classify(body) is not None
    t_json, t_classify = _best_pair()
    print(
        f"   bodies in mix: {len(MIX)} ({len(ERROR_BODIES)} recurring error bodies, "
        f"{len(UNIQUE_BANS)} ban bodies with end times never seen before)"
    )
    ratio = t_classify / t_json
    goal(
        "classify(bytes) vs stdlib json.loads",
        f"classify {t_classify * 1e6:.2f} us/body = {ratio:.2f}x",
        f"json.loads {t_json * 1e6:.2f} us/body (same bodies, same run)",
        "<= 1.00x",
        ratio <= 1.0,
    )
