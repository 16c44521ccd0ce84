"""Wire-level misbehaviour on an aiohttp server connection: RST, FIN, partial bodies, HTML pages.

aiohttp exposes the asyncio transport of each request, so the simulator can do what a proxy or a
crashing server does to a client: SO_LINGER 0 then abort() sends a TCP RST (the client's read
fails with ECONNRESET); close() sends a FIN (aiohttp reports ServerDisconnectedError); a
StreamResponse with a full Content-Length and half the body, then a RST, is a truncated reply.
"""

from __future__ import annotations

import socket
import struct

from aiohttp import web

_LINGER_ZERO = struct.pack("ii", 1, 0)

HTML_PAGES = {
    403: (
        "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
        "<center><h1>403 Forbidden</h1></center>\r\n"
        "<p>The request could not be satisfied. Request blocked by the web application "
        "firewall.</p>\r\n</body>\r\n</html>\r\n"
    ),
    502: (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
    ),
    503: (
        "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
        "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
    ),
    504: (
        "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
        "<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
    ),
}


def reset(request: web.BaseRequest) -> None:
    """Send a TCP RST instead of anything else on this connection."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    transport.abort()


def close(request: web.BaseRequest) -> None:
    """Close the connection cleanly (FIN) without replying."""
    if request.transport is not None:
        request.transport.close()


def html(status: int) -> web.Response:
    page = HTML_PAGES.get(status) or HTML_PAGES[502]
    return web.Response(text=page, status=status, content_type="text/html")


async def partial(
    request: web.BaseRequest, status: int, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """Announce the whole body, send about half of it, then reset the connection."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    reset(request)
    return response
