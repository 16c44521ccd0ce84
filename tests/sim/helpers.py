"""A tiny signed REST client for the simulator tests (independent of binguard's own client)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from yarl import URL

from binguard.errors import catalog


def msg(code: int, index: int = 0, *values: object) -> str:
    """The catalog message the simulator must send, rendered like Binance renders it."""
    text = catalog()[code].messages[index]
    for v in values:
        for ph in ("%s", "%d", "{param}"):
            if ph in text:
                text = text.replace(ph, str(v), 1)
                break
    return text


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def msg(self) -> str | None:
        return self.body.get("msg") if isinstance(self.body, dict) else None


class Api:
    """Sends Binance-style requests: HMAC, Ed25519 or RSA signed, from a chosen local IP."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str = "",
        secret: str = "",
        private_key: Ed25519PrivateKey | RSAPrivateKey | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.api_key = api_key
        self.secret = secret
        self.private_key = private_key
        self.clock_offset_ms = 0

    def sign(self, payload: str) -> str:
        if isinstance(self.private_key, Ed25519PrivateKey):
            return base64.b64encode(self.private_key.sign(payload.encode())).decode()
        if isinstance(self.private_key, RSAPrivateKey):
            raw = self.private_key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
            return base64.b64encode(raw).decode()
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def timestamp(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    async def raw(
        self,
        method: str,
        path: str,
        query: str = "",
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path + ("?" + query if query else "")
        hdrs = dict(headers or {})
        if body:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with self.session.request(
            method, URL(url, encoded=True), data=body or None, headers=hdrs
        ) as r:
            text = await r.text()
            try:
                data: Any = await r.json(content_type=None)
            except ValueError:
                data = text
            return Reply(r.status, r.headers, data)

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        signed: bool = False,
        in_body: bool = False,
        timestamp: int | None = None,
        api_key: str | None = None,
    ) -> Reply:
        items = [(k, str(v)) for k, v in (params or {}).items()]
        if signed and not any(k == "timestamp" for k, _ in items):
            items.append(("timestamp", str(timestamp or self.timestamp())))
        payload = urllib.parse.urlencode(items)
        headers = {}
        key = self.api_key if api_key is None else api_key
        if key:
            headers["X-MBX-APIKEY"] = key
        if signed:
            payload += "&signature=" + urllib.parse.quote(self.sign(payload), safe="")
        if in_body:
            return await self.raw(method, path, body=payload, headers=headers)
        return await self.raw(method, path, query=payload, headers=headers)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("GET", path, params, **kw)

    async def post(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("POST", path, params, **kw)

    async def delete(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("DELETE", path, params, **kw)

    async def order(self, **params: Any) -> Reply:
        return await self.post("/api/v3/order", params, signed=True)

    async def admin(self, path: str, method: str = "GET", body: str = "") -> Any:
        async with self.session.request(method, self.base_url + "/_sim/" + path, data=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()
