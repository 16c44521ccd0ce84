"""What to do after a failed request: a pure decision from the typed error and the request's facts.

`RetryPolicy.decide(error, attempt)` walks `RULES` in order; the first rule whose checker accepts
the error decides. Checkers are small predicates combined with `any_of` / `all_of`, so a new rule
is one line, not a new flag. The rules, each from Binance's docs (binance-api-semantics.md):

1. 418 / "IP banned until" → raise at once with `banned_until`; a ban is never probed (§3).
2. Credentials, malformed requests, rejections, WAF 403, unknown shapes → raise (§1, errors.md).
3. Connection refused before sending: nothing reached Binance, so even an order may be re-sent.
4. An order placement/cancel whose outcome is unknown (reset or timeout after sending, 5XX,
   -1006, -1007, and -1001/-1008 which come as 5XX) → reconcile, never a blind re-send (§1).
   It comes before the rules below, so no status code can turn such an order into a re-send.
5. -1021 → resync the clock and send once more: the request was rejected before execution (§4);
   a second -1021 for the same request raises.
6. 429 → retry after `Retry-After` if it fits the deadline, else raise (§3 "back off"). A
   refusal by binguard's own budget (no HTTP status) is raised: it already waited all it could.
7. Idempotent reads on transport errors, 5XX, -1001, -1008 → capped full-jitter backoff.
8. Anything else (a non-order write with an unknown outcome, ...) → raise.

Retries stop at `max_attempts` or when the delay would overrun the caller's deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from binguard.errors import (
    BinanceError,
    ConnectFailedError,
    ExecutionUnknownError,
    Family,
    IpBannedError,
    Recovery,
    ServerBusyError,
    TransportError,
)

from .backoff import Backoff
from .endpoints import rest_endpoint, ws_endpoint


class Action(StrEnum):
    RETRY = "retry"  # send the same request again after `delay` seconds (0 = now)
    RESYNC_CLOCK = "resync_clock"  # resync the server time, then send once more
    RECONCILE = "reconcile"  # outcome unknown: query the order before anything else
    RAISE = "raise"  # give the error to the caller


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    rule: str  # the rule that decided, for logs, events and tests
    delay: float = 0.0
    banned_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The facts about the failed request that matter for the decision."""

    method: str  # HTTP method (or "GET" for a WebSocket API query)
    path: str
    is_order: bool = False  # places or cancels orders: reconciled, never blindly re-sent
    attempt: int = 1  # attempts made so far, the failed one included
    time_left: float | None = None  # seconds until the caller's deadline; None = no deadline
    resynced: bool = False  # the clock was already resynced for this request
    read: bool | None = None  # re-sending changes nothing; None: the HTTP method says

    @property
    def is_read(self) -> bool:
        if self.read is not None:
            return self.read
        return self.method.upper() in ("GET", "HEAD")

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        *,
        is_order: bool | None = None,
        attempt: int = 1,
        time_left: float | None = None,
        resynced: bool = False,
    ) -> Attempt:
        """The facts for a REST request (`method`, `path`) or a WebSocket API one (`path` is its
        method), read from the endpoint table (`policy/endpoints.py`): `is_order` and `is_read`
        come from its row; an explicit `is_order` wins; without a row the HTTP method decides."""
        row = rest_endpoint(method, path) or ws_endpoint(path)
        if is_order is None:
            is_order = row.is_order if row is not None else False
        return cls(
            method=method,
            path=path,
            is_order=is_order,
            attempt=attempt,
            time_left=time_left,
            resynced=resynced,
            read=row.is_read if row is not None else None,
        )


Checker = Callable[[BinanceError, Attempt], bool]


def is_a(*types: type[BinanceError]) -> Checker:
    return lambda err, _: isinstance(err, types)


def family(*families: Family) -> Checker:
    return lambda err, _: err.family in families


def status(*codes: int) -> Checker:
    return lambda err, _: err.http_status in codes


def any_of(*checkers: Checker) -> Checker:
    return lambda err, att: any(c(err, att) for c in checkers)


def all_of(*checkers: Checker) -> Checker:
    return lambda err, att: all(c(err, att) for c in checkers)


def read(_: BinanceError, att: Attempt) -> bool:
    return att.is_read


def order(_: BinanceError, att: Attempt) -> bool:
    return att.is_order


def resynced(_: BinanceError, att: Attempt) -> bool:
    return att.resynced


def may_have_executed(err: BinanceError, _: Attempt) -> bool:
    return err.may_have_executed


def local(err: BinanceError, _: Attempt) -> bool:
    """No HTTP status: binguard refused it itself (the budget already waited all it could)."""
    return err.http_status is None


def server_error(err: BinanceError, _: Attempt) -> bool:
    return err.http_status is not None and 500 <= err.http_status <= 599


def needs_a_fix(err: BinanceError) -> bool:
    """The request or the credentials must change before it can succeed (errors.md: -1002,
    -1022, -2014, -2015 and the -11xx request errors; catalog recovery FIX_CREDENTIALS /
    FIX_REQUEST). Every loop that repeats a request outside this policy — reconciling,
    recovering, catching up, polling, (re)subscribing — raises it at once instead: sending the
    same request again only earns more refusals (and, for bad signatures, looks like an attack)."""
    return err.recovery in _FIX


_FIX = frozenset({Recovery.FIX_CREDENTIALS, Recovery.FIX_REQUEST})

banned = any_of(is_a(IpBannedError), status(418))
must_fix = family(
    Family.AUTH,
    Family.INVALID_REQUEST,
    Family.ORDER_REJECTED,
    Family.CANCEL_REJECTED,
    Family.ORDER_NOT_FOUND,
    Family.WAF_BLOCKED,
    Family.UNCLASSIFIED,
)
clock_skew = family(Family.CLOCK_SKEW)
rate_limited = family(Family.RATE_LIMITED)
nothing_sent = is_a(ConnectFailedError)
transient = any_of(is_a(TransportError, ExecutionUnknownError, ServerBusyError), server_error)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Checker
    then: Callable[[RetryPolicy, BinanceError, Attempt], Decision]


def _raise(name: str) -> Callable[[RetryPolicy, BinanceError, Attempt], Decision]:
    return lambda _p, _e, _a: Decision(Action.RAISE, name)


def _ban(_p: RetryPolicy, err: BinanceError, _a: Attempt) -> Decision:
    return Decision(Action.RAISE, "banned", banned_until=err.banned_until)


def _resync(_p: RetryPolicy, _e: BinanceError, _a: Attempt) -> Decision:
    return Decision(Action.RESYNC_CLOCK, "clock_skew")


def _reconcile(_p: RetryPolicy, _e: BinanceError, _a: Attempt) -> Decision:
    return Decision(Action.RECONCILE, "outcome_unknown")


def _backoff(name: str) -> Callable[[RetryPolicy, BinanceError, Attempt], Decision]:
    return lambda policy, _e, att: policy.retry_in(name, policy.backoff.delay(att.attempt - 1), att)


def _after_retry_after(policy: RetryPolicy, err: BinanceError, att: Attempt) -> Decision:
    delay = err.retry_after
    if delay is None:
        delay = policy.backoff.delay(att.attempt - 1)
    return policy.retry_in("rate_limited", delay, att)


RULES: tuple[Rule, ...] = (
    Rule("banned", banned, _ban),
    Rule("must_fix", must_fix, _raise("must_fix")),
    Rule("nothing_sent", nothing_sent, _backoff("nothing_sent")),
    Rule("outcome_unknown", all_of(order, any_of(may_have_executed, transient)), _reconcile),
    Rule("clock_skew_again", all_of(clock_skew, resynced), _raise("clock_skew_again")),
    Rule("clock_skew", clock_skew, _resync),
    Rule("refused_locally", all_of(rate_limited, local), _raise("refused_locally")),
    Rule("rate_limited", rate_limited, _after_retry_after),
    Rule("transient_read", all_of(read, transient), _backoff("transient_read")),
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Immutable retry settings plus the ordered rules; `decide` is pure given `backoff.random`."""

    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 5
    rules: tuple[Rule, ...] = RULES

    def decide(self, error: BinanceError, attempt: Attempt) -> Decision:
        for rule in self.rules:
            if rule.when(error, attempt):
                return rule.then(self, error, attempt)
        return Decision(Action.RAISE, "not_retryable")

    def retry_in(self, rule: str, delay: float, attempt: Attempt) -> Decision:
        """RETRY after `delay`, unless attempts are used up or the deadline would pass first."""
        if attempt.attempt >= self.max_attempts:
            return Decision(Action.RAISE, f"{rule}:attempts")
        if attempt.time_left is not None and delay > attempt.time_left:
            return Decision(Action.RAISE, f"{rule}:deadline", delay=delay)
        return Decision(Action.RETRY, rule, delay=delay)
