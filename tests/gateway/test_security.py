"""Security: loopback by default, never an open proxy, no secret anywhere it could leak.

The remote-client rules are unit-tested on `Access` with aiohttp's mocked requests (a fake for
one layer: the tests may not open a non-loopback socket); everything else goes over loopback to
a real gateway and simulator.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from tests.sim.helpers import Api, limit_buy

from binguard.cli import main
from binguard.gateway import GATEWAY_HEADER, ConfigError, Gateway, GatewayConfig
from binguard.gateway.access import Access, Passed, Refused
from binguard.sim import Simulator

from .conftest import gw_config, load_faults

TOKEN = "s3cr3t-t0ken-0123456789"


# -- binding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"listen": "0.0.0.0:8090"}, "--allow-remote"),
        ({"listen": "192.0.2.2:8090", "allow_remote": True}, "--allow-net CIDR or --token"),
        ({"listen": "[::]:8090", "allow_remote": True}, "--allow-net CIDR or --token"),
        ({"token": "short"}, "16-128 characters"),
        ({"allow_nets": ("10.0.0.300/8",)}, "not a network"),
        ({"upstream": "ftp://x"}, "http(s) URL"),
        ({"preset": "mainnet"}, "unknown preset"),
        ({"store": "foo://:secret@x"}, "memory:// or redis://"),
    ],
)
def test_unsafe_settings_are_refused(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        GatewayConfig(**changes).validate()


def test_remote_bind_needs_the_flag_and_a_token_or_network() -> None:
    ok_token = GatewayConfig(listen="0.0.0.0:8090", allow_remote=True, token=TOKEN).validate()
    ok_net = GatewayConfig(listen="0.0.0.0:8090", allow_remote=True, allow_nets=("172.16.0.0/12",))
    assert ok_token.allow_remote and ok_net.validate().allow_nets


def test_cli_refuses_a_remote_bind_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--listen", "0.0.0.0:8090"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-remote" in err


# -- who may call (unit: Access alone) -------------------------------------------------------------
def _req(path: str, remote: str, host: str = "gw:8090", method: str = "GET") -> Any:
    return make_mocked_request(method, path, headers={"Host": host}).clone(remote=remote)


@pytest.mark.parametrize(
    ("path", "remote", "passed"),
    [
        ("/api/v3/ping", "127.0.0.1", "/api/v3/ping"),
        ("/api/v3/ping", "10.1.2.3", None),  # remote, no token, not in the allow-list
        (f"/t/{TOKEN}/api/v3/ping?a=1", "10.1.2.3", "/api/v3/ping"),
        ("/t/wrong-token-000000000/api/v3/ping", "10.1.2.3", None),
        ("/t/wrong-token-000000000/api/v3/ping", "127.0.0.1", None),  # a bad token is bad
        ("/api/v3/ping", "172.20.0.5", "/api/v3/ping"),  # in the allow-list
    ],
)
def test_remote_clients_need_the_token_or_an_allowed_network(
    path: str, remote: str, passed: str | None
) -> None:
    config = GatewayConfig(
        listen="0.0.0.0:8090",
        allow_remote=True,
        token=TOKEN,
        allow_nets=("172.16.0.0/12",),
        allow_hosts=("gw",),
    ).validate()
    verdict = Access(config, 8090).check(_req(path, remote))
    if passed is None:
        assert isinstance(verdict, Refused) and TOKEN not in verdict.why
    else:
        assert isinstance(verdict, Passed) and verdict.path == passed


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8090", True),
        ("localhost:8090", True),
        ("gw:8090", True),
        ("api.binance.com", False),
        ("127.0.0.1:9999", False),
        ("evil.example:8090", False),
        ("127.0.0.1:x", False),
    ],
)
def test_the_host_header_must_name_the_gateway(host: str, ok: bool) -> None:
    config = GatewayConfig(allow_hosts=("gw",)).validate()
    verdict = Access(config, 8090).check(_req("/api/v3/ping", "127.0.0.1", host))
    assert isinstance(verdict, Passed) is ok


# -- open-proxy attempts, over loopback ------------------------------------------------------------
async def _raw(gw: Gateway, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(gw.host, gw.port)
    writer.write(request)
    await writer.drain()
    data = await reader.read(65536)
    writer.close()
    await writer.wait_closed()
    return data


@pytest.mark.parametrize(
    "template",
    [
        b"GET http://127.0.0.1:{sim}/api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1:{sim}\r\n\r\n",
        b"CONNECT 127.0.0.1:{sim} HTTP/1.1\r\nHost: 127.0.0.1:{sim}\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nHost: api.binance.com\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1:{sim}\r\n\r\n",
    ],
    ids=["absolute-form", "connect", "foreign-host", "upstream-host"],
)
async def test_open_proxy_attempts_are_refused(
    sim: Simulator, gateway: Gateway, template: bytes
) -> None:
    seen = len(sim.state.requests)
    answer = await _raw(gateway, template.replace(b"{sim}", str(sim.port).encode()))
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert f"{GATEWAY_HEADER}: forbidden".encode() in answer
    assert len(sim.state.requests) == seen


async def test_oversized_requests_are_refused(
    sim: Simulator, gw_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    seen = len(sim.state.requests)
    big = await gw_api.raw("POST", "/api/v3/order", body="a=" + "x" * 70000)
    assert big.status == 413 and big.headers[GATEWAY_HEADER] == "forbidden"
    long_header = await gw_api.raw("GET", "/api/v3/ping", headers={"X-Long": "y" * 9000})
    assert long_header.status in (400, 431)
    long_line = await gw_api.raw("GET", "/api/v3/ping", query="signature=" + "z" * 9000)
    assert long_line.status in (400, 414)
    assert len(sim.state.requests) == seen
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "yyyy" not in logged and "zzzz" not in logged and "signature" not in logged


# -- secrets -------------------------------------------------------------------------------------
class RecordingApi(Api):
    """Remembers every signature it made, to look for them afterwards."""

    signatures: list[str]

    def sign(self, payload: str) -> str:
        sig = super().sign(payload)
        self.signatures = [*getattr(self, "signatures", []), sig]
        return sig


async def test_no_secret_in_logs_metrics_status_or_errors(
    sim: Simulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    key = sim.config.demo.keys[0]
    caplog.set_level(logging.DEBUG)
    async with Gateway(gw_config(sim.url, token=TOKEN)) as gw:
        api = RecordingApi(session, f"{gw.url}/t/{TOKEN}", key.api_key, key.secret)
        bodies = []
        for fault in (None, {"action": "reset_after"}, {"action": "html", "status": 502}):
            if fault:
                load_faults(sim, {**fault, "path": "/api/v3/order", "times": 1})
            bodies.append((await api.order(**limit_buy("0.001", "20000"))).body)
        bodies.append((await api.get("/api/v3/account", signed=True)).body)
        bodies.append((await api.get("/api/v3/account", {"signature": "f" * 64})).body)
        bad = Api(session, f"{gw.url}/t/not-the-token-123456", key.api_key, key.secret)
        bodies.append((await bad.order(**limit_buy("0.001", "20000"))).body)
        metrics = await api.raw("GET", "/metrics")
        status = await api.raw("GET", "/status")
    secrets = [key.secret, key.api_key, TOKEN, "f" * 64, *api.signatures]
    texts = {
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "metrics": str(metrics.body),
        "status": str(status.body),
        "answers": str(bodies),
    }
    assert len(api.signatures) == 4
    assert any(r.name == "binguard.gateway" for r in caplog.records)
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, (where, secret[:4])
    assert key.api_key[:6] + "…" in texts["logs"]  # the key only as a short prefix
