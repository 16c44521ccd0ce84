"""WebSocket API request security (web-socket-api.md §Request security, §Session Authentication).

- Parameters arrive as JSON values. The signature covers every parameter but `signature`,
  sorted by name, as `name=value&...` with the values as sent: strings verbatim, numbers as their
  JSON literal, booleans `true`/`false`.
- SIGNED requests carry `apiKey` + `signature` + `timestamp`, or, on a session logged on with
  `session.logon` (Ed25519 keys only), just `timestamp`. Errors as on REST: -1102 for a missing
  field, -2014 / -2015 for a bad key, -1022 for a bad signature, -1021 for the timing rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .auth import Principal, Timing, check_timing, parse_timing
from .errors import SimError
from .params import Params
from .state import SimState

# Beyond this decimal exponent no price or quantity is plausible (parsers reject the text).
_MAX_PLAIN_EXPONENT = 40


class Number(str):
    """A JSON number kept as its literal text (the signature covers what the client wrote)."""

    __slots__ = ()


def loads(text: str) -> Any:
    """Parse a request, keeping numbers' literals (ints stay ints)."""
    return json.loads(text, parse_float=Number)


def render(value: Any) -> str:
    """A parameter value as it appears in the signature payload."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def payload(params: dict[str, Any]) -> str:
    """The signed text: all params except `signature`, sorted by name."""
    return "&".join(f"{k}={render(v)}" for k, v in sorted(params.items()) if k != "signature")


def _text(value: Any) -> str:
    """A parameter value as the REST handlers read it (decimal numbers in plain notation)."""
    if value is None:
        return ""
    if isinstance(value, Number):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return str(value)
        # Plain notation of 1e999999999 would be a gigabyte of zeros: such an exponent is kept
        # as written, and the parameter parsers answer it like any malformed value (-1100).
        if number.is_finite() and abs(number.adjusted()) > _MAX_PLAIN_EXPONENT:
            return str(value)
        return format(number, "f")
    return render(value)


def to_params(params: dict[str, Any]) -> Params:
    """REST-style parameters for the shared handlers; auth-only names count as read."""
    p = Params({k: _text(v) for k, v in params.items()})
    p.mark("apiKey", "signature", "returnRateLimits")
    return p


@dataclass(frozen=True, slots=True)
class Session:
    """A connection logged on with `session.logon`."""

    api_key: str
    principal: Principal
    since_ms: int


def authenticate(
    state: SimState,
    session: Session | None,
    raw: dict[str, Any],
    params: Params,
) -> tuple[Principal, Timing]:
    """Check a SIGNED request: the session's key (no apiKey sent) or apiKey + signature."""
    now_us = state.clock.now_us()
    if session is not None and "apiKey" not in raw:
        timing = parse_timing(params)
        check_timing(timing, now_us)
        return session.principal, timing
    return authenticate_signed(state, raw, params)


def authenticate_signed(
    state: SimState, raw: dict[str, Any], params: Params
) -> tuple[Principal, Timing]:
    """apiKey, then timestamp/recvWindow, then the signature, then the timing rule."""
    api_key = params.raw("apiKey", required=True)
    assert api_key is not None
    principal, verifier = state.keys.identify(api_key)
    timing = parse_timing(params)
    signature = params.raw("signature", required=True)
    assert signature is not None
    if not verifier.verify(payload(raw).encode(), signature):
        raise SimError.of(-1022)
    check_timing(timing, state.clock.now_us())
    return principal, timing
