"""Order placement and cancel over the WebSocket API (`orders_via="ws"`), reconciled like REST.

    bn = SpotConnector(..., options=ConnectorOptions(orders_via="ws"))
    await bn.place_order(...)      # `order.place` on a supervised WebSocket API socket

Why a socket: no TCP/TLS handshake per order and no HTTP framing, so an order leaves sooner. What
does not change is the safety rule (orders.py): the client order id is journalled first, and an
answer that is lost — the socket dropped or reset after the request left, a timeout, a 5XX
`status`, -1006 / -1007 — is never re-sent blindly. It surfaces as `OutcomeUnknown`, and the
order manager looks the order up by its client order id (over REST, a path independent of the
socket that just failed) and re-sends with the same id only once the server clock has passed the
attempt's timestamp + recvWindow + margin.

One thing is clearer than over REST: a request whose socket is not up, or ended before the bytes
could leave, provably reached nobody (`ConnectFailedError`). Such a request is not left waiting
for the socket: it goes over REST at once (`rest`, the same endpoint's REST form from the endpoint
table, signed by the REST transport), so orders keep flowing while the socket reconnects — and
when faults keep killing it, REST carries them until it is back (`rest_fallbacks` counts them).
Nothing is sent twice by this: the WebSocket attempt provably never left. Without `rest` the
request is sent again once a socket is back (retry rule `nothing_sent`).

Signing, logon (Ed25519), the budget and classification are the WebSocket API client's
(transport/ws_api.py `WsApiClient`, shared with user data): this module keeps only what is
order-specific, the retry loop around `order.place` / `order.cancel` (calls.py `retrying`). The
socket is a `WsSupervisor`: reconnects forever and logs on again on every new socket, unless a
logon is refused for the credentials (-1022, -2015...): then it stops, `open()` (or the next
request) raises that AuthError, and nothing is sent again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any, Protocol

from binguard.errors import ConnectFailedError
from binguard.policy.endpoints import ws_endpoint
from binguard.transport.rest import RestResponse
from binguard.transport.ws import WsSupervisor
from binguard.transport.ws_api import WsApiClient

from .calls import Requests


class RestSend(Protocol):
    """One REST attempt, no retries (`RestTransport.send`)."""

    async def __call__(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        deadline: float | None = None,
    ) -> RestResponse: ...


class WsOrderSession:
    """A supervised WebSocket API socket for orders; see the module docstring.

    `ws_api`: the WebSocket API client (not yet served: this session serves it); `loop`: the
    request loop whose retry policy every order request goes through."""

    def __init__(
        self, ws_api: WsApiClient, loop: Requests, *, rest: RestSend | None = None
    ) -> None:
        """`rest`: one REST attempt (`RestTransport.send`), used while no socket is up."""
        self._api = ws_api
        self._loop = loop
        self._rest = rest
        self.sup: WsSupervisor = ws_api.serve()
        self.rest_fallbacks = 0  # requests sent over REST because no socket was up

    def __repr__(self) -> str:
        return f"WsOrderSession(connected={self.sup.connected}, logon={self.logon})"

    @property
    def logon(self) -> bool:
        """The socket logs on (Ed25519 keys): requests then carry no signature."""
        return self._api.logon_mode

    @property
    def requests(self) -> int:
        """Requests that left on a socket."""
        return self._api.requests

    @property
    def lost(self) -> int:
        """Answers lost: the socket ended or timed out after sending."""
        return self._api.lost

    @property
    def not_sent(self) -> int:
        """Requests that found no live socket: nothing left, sent again."""
        return self._api.not_sent

    def start(self) -> None:
        """Connect in the background; the first request waits for the socket."""
        self._api.start()

    async def close(self) -> None:
        """Stop the socket for good."""
        await self._api.close()

    async def wait_ready(self, within: float) -> None:
        """Wait up to `within` seconds for the first socket (then REST carries the requests);
        a refused logon (bad credentials) is raised."""
        with contextlib.suppress(TimeoutError):  # not up yet: REST carries requests until it is
            await self.sup.wait_connected(within)

    async def send(self, method: str, params: Mapping[str, object], *, deadline: float) -> Any:
        """One attempt through the budget: on the socket when one is up, else over REST (see
        the module docstring); its `result`, or a typed BinanceError."""
        row = ws_endpoint(method)
        rest = row.rest if row is not None and self._rest is not None else None
        if rest is None:
            return await self._api.request(method, params, signed=True, deadline=deadline)
        if self._api.ready:
            try:
                return await self._api.request(method, params, signed=True, deadline=deadline)
            except ConnectFailedError:
                pass  # the socket ended before the request left: nothing was sent
        return await self._over_rest(rest, params, deadline)

    async def _over_rest(
        self, rest: tuple[str, str], params: Mapping[str, object], deadline: float
    ) -> Any:
        assert self._rest is not None
        self.rest_fallbacks += 1
        http_method, path = rest
        response = await self._rest(http_method, path, params, signed=True, deadline=deadline)
        return response.data

    async def call(
        self,
        method: str,
        params: Mapping[str, object],
        *,
        deadline: float | None = None,
    ) -> Any:
        """One logical request with the connector's retry policy. Raises a typed BinanceError,
        or `OutcomeUnknown` for an order method whose request may have executed."""
        row = ws_endpoint(method)
        is_order = row is not None and row.is_order
        until = deadline or time.monotonic() + self._loop.options.request_deadline
        return await self._loop.retrying(
            lambda: self.send(method, params, deadline=until),
            method="POST" if is_order else "GET",
            path=method,
            is_order=is_order,
            deadline=until,
            sync=True,
        )
