"""--proxy socks5://: every upstream request and socket of the gateway goes through a SOCKS5
proxy (aiohttp-socks, the `socks` extra). The proxy here is a small real SOCKS5 server on
loopback (RFC 1928, no authentication, CONNECT only), written in this file: no package in the
project's dependencies serves SOCKS5, and this one records every target it is asked for."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tests.sim.helpers import Api, recv_json

from binguard.gateway import ConfigError, Gateway, GatewayConfig
from binguard.sim import Simulator

from .conftest import gw_config


class Socks5:
    """A SOCKS5 server (no auth, CONNECT): `targets` holds (address type, host, port) per
    connection it made; `bytes_up` what it carried towards the targets."""

    def __init__(self) -> None:
        self.targets: list[tuple[int, str, int]] = []
        self.bytes_up = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Socks5:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, n = await reader.readexactly(2)
            methods = await reader.readexactly(n)
            if version != 5 or 0 not in methods:
                writer.write(b"\x05\xff")  # no acceptable method
                return
            writer.write(b"\x05\x00")
            _, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            if command != 1:
                writer.write(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
                return
            up_reader, up_writer = await asyncio.open_connection(host, port)
            self.targets.append((kind, host, port))
            writer.write(b"\x05\x00\x00\x01" + bytes(6))  # succeeded
            await self._pipe(reader, writer, up_reader, up_writer)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    self.bytes_up += len(data) if up else 0
                    dst.write(data)
                    await dst.drain()
            dst.close()

        tasks = {
            asyncio.ensure_future(copy(reader, up_writer, True)),
            asyncio.ensure_future(copy(up_reader, writer, False)),
        }
        self._pipes |= tasks
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)


@pytest.fixture
async def socks() -> AsyncIterator[Socks5]:
    async with Socks5() as proxy:
        yield proxy


async def test_rest_and_streams_go_through_the_socks5_proxy(
    sim: Simulator, socks: Socks5, session: aiohttp.ClientSession
) -> None:
    host, port = sim.url.removeprefix("http://").split(":")
    async with Gateway(gw_config(sim.url, proxy="socks5://" + socks.url)) as gw:
        started = len(socks.targets)  # the start-up's time samples and exchangeInfo
        before = socks.bytes_up
        reply = await Api(session, gw.url).get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
        depth_bytes = socks.bytes_up - before
        async with session.ws_connect("ws" + gw.url[4:] + "/ws") as ws:
            await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
            assert await recv_json(ws) == {"result": None, "id": 1}
        stream_bytes = socks.bytes_up - before - depth_bytes
    assert reply.status == 200 and "lastUpdateId" in reply.body
    assert depth_bytes >= len("GET /api/v3/depth?symbol=BTCUSDT&limit=5 HTTP/1.1")
    # the upgrade and the SUBSCRIBE frame (on a connection of its own, or a kept-alive one)
    assert stream_bytes >= len("GET /stream HTTP/1.1") + len('"SUBSCRIBE"')
    assert started >= 1
    assert set(socks.targets) == {(1, host, int(port))}  # an IPv4 target: the simulator's
    assert any(r.get("ws") == "stream" for r in sim.state.requests)  # the socket arrived
    assert [r["path"] for r in sim.state.requests if not r.get("ws")][-1] == "/api/v3/depth"


async def test_socks5h_resolves_the_upstream_name_at_the_proxy(
    sim: Simulator, socks: Socks5, session: aiohttp.ClientSession
) -> None:
    port = int(sim.url.rsplit(":", 1)[1])
    upstream = f"http://localhost:{port}"
    async with Gateway(gw_config(upstream, proxy="socks5h://" + socks.url)) as gw:
        reply = await Api(session, gw.url).get("/api/v3/ping")
    assert reply.status == 200
    assert socks.targets and set(socks.targets) == {(3, "localhost", port)}  # a name, not an IP


async def test_a_dead_socks_proxy_is_a_clean_local_answer(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Nothing listens at the proxy's address: reads get Binance's -1001 after their retries,
    and nothing reaches the simulator."""
    async with Socks5() as gone:
        address = gone.url
    async with Gateway(gw_config(sim.url, proxy="socks5://" + address)) as gw:
        reply = await Api(session, gw.url).get("/api/v3/ping")
    assert reply.status == 503 and reply.body["code"] == -1001
    assert reply.headers["X-Binguard-Gateway"] == "failed"
    assert sim.state.requests == [] or all(r.get("ws") for r in sim.state.requests)


@pytest.mark.parametrize(
    ("proxy", "words"),
    [
        ("ftp://127.0.0.1:21", "http://host:port or socks5://host:port"),
        ("socks4://127.0.0.1:1080", "http://host:port or socks5://host:port"),
        ("socks5://127.0.0.1", "needs a port"),
        ("socks5://user:s3cret@:1080", "http://host:port or socks5://host:port"),
        ("socks5://127.0.0.1:99999", "http://host:port or socks5://host:port"),
    ],
)
def test_proxy_urls_are_checked(proxy: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        GatewayConfig(proxy=proxy).validate()
    assert "s3cret" not in str(caught.value)


def test_socks_urls_are_accepted() -> None:
    for proxy in ("socks5://127.0.0.1:1080", "socks5h://user:pw@proxy.example:1080"):
        assert GatewayConfig(proxy=proxy).validate().proxy == proxy
