"""binguard gateway keys mode: CPU per forwarded order against pass-through's (issue 17).

Each server in a process of its own, the load generator in this one: per mode, a fresh static
upstream of bench_gateway (answers any path at once, limits too large to wait on) and one
gateway in front of it — pass-through, and keys mode with the real key HMAC, Ed25519 and RSA.
The generator sends N sequential signed POST /api/v3/order over one keep-alive connection
(each with its own newClientOrderId and a fresh timestamp, signed by the bot: with the real
HMAC secret for pass-through, with its local HMAC secret for keys mode; signing is the bot's
CPU, not measured). Figure: the gateway process's user+system CPU per order, from /proc.
Goals: keys mode ≤ 1.5× pass-through with HMAC and with Ed25519 real keys; RSA is reported
without a goal (its signature alone costs more than a forward).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bench._goals import goal
from bench.bench_gateway import _cpu_s, _start
from binguard.gateway.keys import write_private

N = 2000
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


async def _orders(url: str, key: str, secret: str) -> None:
    keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
        for i in range(WARMUP + N):
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


def _cpu_per_order(url: str, pid: int, key: str, secret: str) -> float:
    before = _cpu_s(pid)
    asyncio.run(_orders(url, key, secret))
    return (_cpu_s(pid) - before) * 1000 / (WARMUP + N)


def run() -> None:
    procs: list[Any] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            modes: dict[str, tuple[str, str, dict[str, Any]]] = {
                "pass-through": (REAL_KEY, REAL_SECRET, {}),
                **{
                    f"keys {kind}": (LOCAL_KEY, LOCAL_SECRET, {"keys": _keys_file(folder, kind)})
                    for kind in ("hmac", "ed25519", "rsa")
                },
            }
            cpu: dict[str, float] = {}
            for mode, (key, secret, options) in modes.items():
                # a fresh upstream per mode: its X-MBX-USED-WEIGHT-1M counts every request it
                # ever served (it never resets per minute), and a gateway starting against one
                # already past Binance's default 6,000 waits for the next minute before it may
                # read exchangeInfo
                up, up_url = _start("upstream")
                gw, gw_url = _start("gateway", up_url, cache_ttl_s=0.0, **options)
                procs += [up, gw]
                assert gw.pid is not None
                cpu[mode] = _cpu_per_order(gw_url, gw.pid, key, secret)
                print(f"   {mode}: {cpu[mode]:.3f} ms CPU per forwarded order (N={N})")
                for p in (gw, up):
                    p.terminate()
                    p.join(5)
        base = cpu["pass-through"]
        for kind in ("hmac", "ed25519"):
            ratio = cpu[f"keys {kind}"] / base
            goal(
                f"keys mode CPU per order, {kind} real key",
                f"{cpu[f'keys {kind}']:.3f} ms ({ratio:.2f}x)",
                f"pass-through {base:.3f} ms",
                "<= 1.5x pass-through",
                ratio <= 1.5,
            )
        print(f"   keys mode, RSA real key: {cpu['keys rsa'] / base:.2f}x pass-through (no goal)")
    finally:
        for p in procs:
            p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()
