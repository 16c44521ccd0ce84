"""Signing reproduces Binance's documented vectors; keys never leak through repr or pickling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.transport.signing import (
    HmacSigner,
    SigningKeyError,
    load_signer,
    rest_payload,
    ws_payload,
)

# rest-api.md "SIGNED Endpoint Examples for POST /api/v3/order - HMAC Keys"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_hmac_doc_vector_as_query() -> None:
    assert HmacSigner(DOC_SECRET).sign(rest_payload(DOC_QUERY)) == DOC_SIGNATURE


def test_hmac_doc_vector_split_between_query_and_body() -> None:
    # rest-api.md example 3: part in the query string, part in the body; the payload concatenates.
    query, body = DOC_QUERY.split("&quantity")
    assert HmacSigner(DOC_SECRET).sign(rest_payload(query, "&quantity" + body)) == DOC_SIGNATURE


@settings(max_examples=300)
@given(
    st.one_of(st.binary(min_size=1, max_size=200), st.text(min_size=1, max_size=100)),
    st.binary(max_size=300),
)
def test_hmac_equals_the_stdlib_hmac(secret: str | bytes, payload: bytes) -> None:
    """HmacSigner builds HMAC from hashlib's SHA-256 (RFC 2104): the stdlib's hmac is the
    reference, for keys shorter than, as long as and longer than SHA-256's 64-byte block."""
    raw = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(raw, payload, hashlib.sha256).hexdigest()
    assert HmacSigner(secret).sign(payload) == expected


@pytest.mark.parametrize("size", [1, 63, 64, 65, 128, 129])
def test_hmac_at_the_block_size(size: int) -> None:
    secret = bytes(range(256))[:size] if size <= 256 else b"k" * size
    payload = DOC_QUERY.encode()
    assert HmacSigner(secret).sign(payload) == hmac.new(secret, payload, hashlib.sha256).hexdigest()


def test_ws_api_payload_is_sorted_without_signature() -> None:
    params = {"timestamp": 2, "apiKey": "k", "symbol": "BTCUSDT", "signature": "x"}
    assert ws_payload(params) == b"apiKey=k&symbol=BTCUSDT&timestamp=2"


def _pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_ed25519_round_trip() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = load_signer(private_key=_pem(key))
    sig = signer.sign(b"symbol=BTCUSDT&timestamp=1")
    key.public_key().verify(base64.b64decode(unquote(sig)), b"symbol=BTCUSDT&timestamp=1")
    assert signer.key_type == "ED25519"


def test_rsa_round_trip() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = load_signer(private_key=_pem(key))
    sig = signer.sign(b"a=1")
    key.public_key().verify(base64.b64decode(unquote(sig)), b"a=1", padding.PKCS1v15(), SHA256())


def test_secrets_never_leak() -> None:
    signer = HmacSigner(DOC_SECRET)
    assert DOC_SECRET not in repr(signer) + str(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_bad_keys_are_typed_errors_without_key_material() -> None:
    with pytest.raises(SigningKeyError) as info:
        load_signer(
            private_key="-----BEGIN PRIVATE KEY-----\nAAAAsecretish\n-----END PRIVATE KEY-----\n"
        )
    assert "secretish" not in str(info.value)
    with pytest.raises(SigningKeyError):
        load_signer()
    with pytest.raises(SigningKeyError):
        load_signer(secret="")
