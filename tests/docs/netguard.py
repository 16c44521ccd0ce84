"""Loopback only, for a README snippet run in its own process: any other host is refused.

`install()` wraps `socket.getaddrinfo` (name lookups: requests, aiohttp's threaded resolver,
websockets) and `socket.socket.connect`/`connect_ex` (what asyncio and the standard library call
with resolved addresses), so a snippet that forgot a URL fails with an OSError naming the host
instead of reaching the internet. Every refused host is written to stderr as
`netguard: refused HOST` for the test to read.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").lower()
    if text in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host: object) -> OSError:
    print(f"netguard: refused {host}", file=sys.stderr, flush=True)
    return OSError(f"netguard: {host} is not loopback; README snippets talk to the simulator only")


def install() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            raise _refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            raise _refuse(address[0])

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


if __name__ == "__main__":
    # python tests/docs/netguard.py SCRIPT: run SCRIPT as __main__ behind the guard
    import runpy
    from pathlib import Path

    install()
    sys.argv = sys.argv[1:]
    sys.path[0] = str(Path(sys.argv[0]).resolve().parent)  # as `python SCRIPT` would have it
    runpy.run_path(sys.argv[0], run_name="__main__")
