"""The upstream connector for a SOCKS5 proxy (aiohttp-socks, the optional `socks` extra).

aiohttp-socks raises its own exception types (plain `Exception`s) when the proxy cannot be
reached, times out, or refuses the target; the gateway's upstream code (forwarder, upkeep,
stream and WebSocket API sockets) handles aiohttp's. Here they become aiohttp's
`ClientProxyConnectionError` (a `ClientConnectorError`: the connection never opened, so nothing
was sent and a read may be retried; an order gets -1001's "not sent" treatment, never -1007).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError


class SocksConnector(ProxyConnector):
    """ProxyConnector whose failures are aiohttp's connection errors (module docstring)."""

    async def _wrap_create_connection(
        self, *args: Any, **kwargs: Any
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        try:
            return await super()._wrap_create_connection(*args, **kwargs)
        except (ProxyConnectionError, ProxyError, ProxyTimeoutError) as e:
            # the text names the proxy's host and port, never its credentials
            failure = OSError(f"SOCKS5 proxy: {type(e).__name__}: {e}")
            raise aiohttp.ClientProxyConnectionError(kwargs["req"].connection_key, failure) from e


def socks_connector(url: str, **options: Any) -> aiohttp.TCPConnector:
    """A connector through the SOCKS5 proxy at `url` (socks5:// or socks5h://: names resolved
    by the proxy); `options` go to aiohttp's TCPConnector."""
    remote_dns = url.startswith("socks5h://")
    plain = "socks5://" + url.split("://", 1)[1]
    connector: aiohttp.TCPConnector = SocksConnector.from_url(plain, rdns=remote_dns, **options)
    return connector
