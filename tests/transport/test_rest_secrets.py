"""A signed request that fails in the HTTP library leaves no signature anywhere: aiohttp puts the
whole URL (query and signature included) in some of its messages (ClientResponseError)."""

from __future__ import annotations

import pytest

from binguard.errors import BinanceError
from binguard.transport.rest import RestOptions, RestTransport
from binguard.transport.signing import load_signer

from .test_http1 import Conn, serve


class Clock:
    def now_ms(self) -> int:
        return 1_700_000_000_000


async def malformed_head(conn: Conn) -> None:
    await conn.request()
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: x\x01y\r\n\r\n{}")


@pytest.mark.parametrize("http", ["http1", "aiohttp"])
async def test_no_signature_in_the_error_of_a_malformed_answer(http: str) -> None:
    async with serve(malformed_head) as srv:
        transport = RestTransport(
            srv.url,
            api_key="key",
            signer=load_signer(secret="s" * 64),
            time_source=Clock(),
            options=RestOptions(http=http),  # type: ignore[arg-type]
        )
        async with transport:
            with pytest.raises(BinanceError) as info:
                await transport.send("GET", "/api/v3/account", signed=True)
    assert srv.requests and b"signature=" in srv.requests[0], "the request was signed"
    texts = []
    err: BaseException | None = info.value
    while err is not None:  # the chain a traceback prints (a suppressed context is not shown)
        texts += [str(err), repr(err)]
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    signature = srv.requests[0].split(b"signature=")[1].split()[0].decode()
    assert signature not in "\n".join(texts)
