"""binguard gateway keys mode: CPU per forwarded order against pass-through's (issue 17).

Each server in a process of its own, the load generator in this one: per mode, a fresh static
upstream of bench_gateway (answers any path at once, limits too large to wait on) and one
gateway in front of it — pass-through, and keys mode with the real key HMAC, Ed25519 and RSA.
The generator sends N sequential signed POST /api/v3/order over one keep-alive connection
(each with its own newClientOrderId and a fresh timestamp, signed by the bot: with the real
HMAC secret for pass-through, with its local HMAC secret for keys mode; signing is the bot's
CPU, not measured). Figure: the gateway process's user+system CPU per order, from /proc.
All four pairs run at once and are measured in ROUNDS interleaved rounds of PER_ROUND orders
(the order of the modes flips every round), each mode's figure its best round: on a shared
machine other work only ever slows a round down, and a drift of the machine's load meets every
mode alike (one long run per mode, one after the other, moved the ratio by ±0.2).
Goals: keys mode ≤ 1.5× pass-through with HMAC and with Ed25519 real keys; RSA is reported
without a goal (its signature alone costs more than a forward).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bench._goals import goal
from bench.bench_gateway import _cpu_s, _start
from binguard.gateway.keys import write_private

ROUNDS = 4
PER_ROUND = 1000  # orders: ~0.5 s of gateway CPU, against /proc's 10 ms tick
WARMUP = 200
REAL_KEY, REAL_SECRET = "REAL" + "K" * 60, "real-" + "s" * 59
LOCAL_KEY, LOCAL_SECRET = "bg-bench", "local-" + "s" * 58


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _keys_file(folder: Path, kind: str) -> str:
    real: dict[str, Any] = {"api_key": REAL_KEY}
    if kind == "hmac":
        real["secret"] = REAL_SECRET
    else:
        key = (
            ed25519.Ed25519PrivateKey.generate()
            if kind == "ed25519"
            else (rsa.generate_private_key(public_exponent=65537, key_size=2048))
        )
        write_private(folder / f"{kind}.pem", _pem(key).decode())
        real["private_key_file"] = f"{kind}.pem"
    data = {
        "real": {"main": real},
        "local": [{"api_key": LOCAL_KEY, "secret": LOCAL_SECRET, "real": "main"}],
    }
    path = folder / f"keys-{kind}.yaml"
    write_private(path, yaml.safe_dump(data))
    return str(path)


async def _orders(url: str, key: str, secret: str, ids: Iterator[int], n: int) -> None:
    keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
        for i in itertools.islice(ids, n):  # every order its own id: keys mode journals them
            payload = (
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=20000"
                f"&newClientOrderId=bench{i}&timestamp={int(time.time() * 1000)}"
            )
            mac = keyed.copy()
            mac.update(payload.encode())
            body = f"{payload}&signature={mac.hexdigest()}"
            async with s.post(url + "/api/v3/order", data=body, headers=headers) as r:
                await r.read()
                assert r.status == 200, (r.status, await r.text())


class _Pair:
    """One mode: a static upstream and a gateway in front of it, and the bot's key."""

    def __init__(self, key: str, secret: str, options: dict[str, Any]) -> None:
        # a fresh upstream per mode: its X-MBX-USED-WEIGHT-1M counts every request it ever
        # served (it never resets per minute), and a gateway starting against one already past
        # Binance's default 6,000 waits for the next minute before it may read exchangeInfo
        self.up, up_url = _start("upstream")
        self.gw, self.url = _start("gateway", up_url, cache_ttl_s=0.0, **options)
        self.key, self.secret = key, secret
        self.ids = itertools.count()

    def cpu_per_order(self, n: int) -> float:
        """Milliseconds of the gateway's CPU per order, over `n` orders."""
        assert self.gw.pid is not None
        before = _cpu_s(self.gw.pid)
        asyncio.run(_orders(self.url, self.key, self.secret, self.ids, n))
        return (_cpu_s(self.gw.pid) - before) * 1000 / n

    def close(self) -> None:
        for p in (self.gw, self.up):
            p.terminate()
            p.join(5)


def run() -> None:
    pairs: dict[str, _Pair] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            pairs["pass-through"] = _Pair(REAL_KEY, REAL_SECRET, {})
            for kind in ("hmac", "ed25519", "rsa"):
                options = {"keys": _keys_file(folder, kind)}
                pairs[f"keys {kind}"] = _Pair(LOCAL_KEY, LOCAL_SECRET, options)
            for pair in pairs.values():
                pair.cpu_per_order(WARMUP)
            rounds: dict[str, list[float]] = {mode: [] for mode in pairs}
            order = list(pairs)
            for _ in range(ROUNDS):
                for mode in order:
                    rounds[mode].append(pairs[mode].cpu_per_order(PER_ROUND))
                order.reverse()
    finally:
        for pair in pairs.values():
            pair.close()
    cpu = {mode: min(figures) for mode, figures in rounds.items()}
    for mode, figures in rounds.items():
        shown = " ".join(f"{f:.3f}" for f in figures)
        print(f"   {mode}: {cpu[mode]:.3f} ms CPU per forwarded order (rounds: {shown})")
    base = cpu["pass-through"]
    for kind in ("hmac", "ed25519"):
        ratio = cpu[f"keys {kind}"] / base
        goal(
            f"keys mode CPU per order, {kind} real key",
            f"{cpu[f'keys {kind}']:.3f} ms ({ratio:.2f}x)",
            f"pass-through {base:.3f} ms (best of {ROUNDS} interleaved rounds of {PER_ROUND})",
            "<= 1.5x pass-through",
            ratio <= 1.5,
        )
    print(f"   keys mode, RSA real key: {cpu['keys rsa'] / base:.2f}x pass-through (no goal)")
