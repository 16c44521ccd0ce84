"""WebSocket API session and user data methods (web-socket-api.md; user-data-stream.md).

session.logon (Ed25519 keys only), session.status, session.logout, userDataStream.subscribe
(needs a logged-on session), userDataStream.subscribe.signature (any key type: apiKey, timestamp,
signature, optional recvWindow), userDataStream.unsubscribe (optional subscriptionId; none = all),
session.subscriptions. `session.logout` ends only the subscription made through the session.

Not documented by Binance, chosen here: a non-Ed25519 key in session.logon and
userDataStream.subscribe without a session answer -1002 "You are not authorized to execute this
request." (401); unsubscribing when nothing (or not that id) is active answers -2036.
"""

from __future__ import annotations

from typing import Any

from .errors import SimError
from .ws_auth import Session, authenticate_signed
from .ws_session import WsRequest


async def logon(req: WsRequest) -> Any:
    state = req.hub.state
    principal, _timing = authenticate_signed(state, req.raw, req.params)
    req.params.finish()
    if principal.key_kind != "ED25519":
        raise SimError.of(-1002)
    api_key = str(req.raw["apiKey"])
    req.conn.session = Session(api_key, principal, state.clock.now_ms())
    req.account = principal.account
    return req.conn.status()


async def status(req: WsRequest) -> Any:
    req.params.finish()
    return req.conn.status()


async def logout(req: WsRequest) -> Any:
    req.params.finish()
    conn = req.conn
    for sub in list(conn.subscriptions.values()):
        if sub.via_session:
            conn.terminate_after_reply(sub.subscription_id, req)
    conn.session = None
    return conn.status()


async def subscribe(req: WsRequest) -> Any:
    req.params.finish()
    session = req.conn.session
    if session is None:
        raise SimError.of(-1002)
    req.account = session.principal.account
    return {"subscriptionId": req.conn.subscribe(session.principal.account, via_session=True)}


async def subscribe_signature(req: WsRequest) -> Any:
    principal, _timing = authenticate_signed(req.hub.state, req.raw, req.params)
    req.params.finish()
    req.account = principal.account
    return {"subscriptionId": req.conn.subscribe(principal.account, via_session=False)}


async def unsubscribe(req: WsRequest) -> Any:
    sub_id = req.params.integer("subscriptionId")
    req.params.finish()
    conn = req.conn
    if sub_id is None:
        if not conn.subscriptions:
            raise SimError.of(-2036)
        for sid in list(conn.subscriptions):
            conn.terminate_after_reply(sid, req)
    elif sub_id not in conn.subscriptions:
        raise SimError.of(-2036)
    else:
        conn.terminate_after_reply(sub_id, req)
    return {}


async def subscriptions(req: WsRequest) -> Any:
    req.params.finish()
    return [{"subscriptionId": sid} for sid in req.conn.subscriptions]
