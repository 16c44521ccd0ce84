"""binguard's exceptions: one class per recovery family.

    BinanceError                     anything that went wrong talking to Binance
    ├── TransportError               no HTTP answer at all
    │   ├── ConnectFailedError       never connected: the request did not reach Binance
    │   ├── ConnectionDroppedError   reset or closed after the request may have been sent
    │   └── RequestTimeoutError      no answer in time; the request may have been executed
    ├── ExecutionUnknownError        5XX, -1006, -1007: executed or not, nobody knows yet
    ├── RateLimitedError             429: -1003 weight, -1015 orders, -1034, -1181
    │   └── IpBannedError            418 or "IP banned until": nothing may be sent until `banned_until`
    ├── ClockSkewError               -1021: timestamp outside recvWindow or ahead of the server
    ├── ServerBusyError              -1001, -1008, -1016: failed without processing; retry later
    ├── AuthError                    -1002, -1022, -2014, -2015: key, signature or permissions
    ├── WafBlockedError              403 from Binance's web application firewall
    ├── InvalidRequestError          -11xx and friends: fix the request (`param` names the culprit)
    ├── OrderRejectedError           -2010, -1013 (`filter`), -1010, -2038, -2021/-2022
    ├── CancelRejectedError          -2011
    ├── OrderNotFoundError           -2013: no such order (yet, or ever)
    ├── OrderArchivedError           -2026: the order existed, ended with nothing executed, archived
    └── UnclassifiedError            none of the above (e.g. a 404 page)

A code missing from the catalog raises an `UnknownCodeError` subclass of its range's family
(`UnknownCodeInvalidRequestError` for -11xx, ...), so `except InvalidRequestError` still catches it.

Every error carries what a program needs to act and a human needs to understand: `code`, `name`,
`msg`, the matched `template`, typed `params`, `http_status`, `retry_after`, the used-weight and
order-count headers, the redacted `request`, `family`, `recovery` and `may_have_executed`. Errors
pickle, compare by content in tests through `as_dict()`, and never hold a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from time import time as _now
from types import MappingProxyType
from typing import Any, ClassVar, Self

from ._catalog import CatalogEntry, Family, Recovery, Template, catalog
from ._params import Interval, RequestInfo, typed_params

_EMPTY: Mapping[str, int] = MappingProxyType({})


class BinanceError(Exception):
    """Base of every binguard error; the family's subclass tells how to recover."""

    family: ClassVar[Family] = Family.UNCLASSIFIED

    code: int | None
    msg: str
    template: str | None
    http_status: int | None
    retry_after: float | None
    used_weight: Mapping[str, int]
    order_count: Mapping[str, int]
    request: RequestInfo | None
    data: Mapping[str, Any] | None
    received_at: float | None
    cause: str | None

    def __init__(
        self,
        msg: str = "",
        *,
        code: int | None = None,
        template: Template | str | None = None,
        values: tuple[str, ...] = (),
        param_names: tuple[str, ...] = (),
        http_status: int | None = None,
        retry_after: float | None = None,
        used_weight: Mapping[str, int] | None = None,
        order_count: Mapping[str, int] | None = None,
        request: RequestInfo | None = None,
        data: Mapping[str, Any] | None = None,
        received_at: float | None = None,
        may_have_executed: bool | None = None,
        recovery: Recovery | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        if isinstance(template, Template):
            self._template_obj: Template | None = template
            self.template = template.message
            param_names = param_names or template.params
        else:
            self._template_obj = None
            self.template = template
        self._values = values
        self._param_names = param_names
        self._params: Mapping[str, object] | None = None
        self.http_status = http_status
        self.retry_after = retry_after
        self.used_weight = used_weight or _EMPTY
        self.order_count = order_count or _EMPTY
        self.request = request
        self.data = data
        self.received_at = received_at
        self._may_have_executed = may_have_executed
        self._recovery = recovery
        self.cause = cause

    @classmethod
    def _fast(
        cls,
        msg: str,
        code: int | None,
        template: Template | None,
        values: tuple[str, ...],
        http_status: int | None,
        retry_after: float | None,
        used_weight: Mapping[str, int] | None,
        order_count: Mapping[str, int] | None,
        request: RequestInfo | None,
        data: Mapping[str, Any] | None,
        may_have_executed: bool | None,
    ) -> Self:
        """classify()'s constructor: the same state as __init__, set in one step (a hot path)."""
        err = cls.__new__(cls, msg)
        err.__dict__ = {
            "code": code,
            "msg": msg,
            "_template_obj": template,
            "template": template.message if template is not None else None,
            "_values": values,
            "_param_names": template.params if template is not None else (),
            "_params": None,
            "http_status": http_status,
            "retry_after": retry_after,
            "used_weight": used_weight or _EMPTY,
            "order_count": order_count or _EMPTY,
            "request": request,
            "data": data,
            "received_at": _now(),
            "_may_have_executed": may_have_executed,
            "_recovery": None,
            "cause": None,
        }
        return err

    def _again(self, request: RequestInfo | None) -> Self:
        """A new error with this one's state, received now, for `request`: classify()'s memo
        keeps prototypes built by _fast() that no caller ever sees (their `_params` stay unset)."""
        cls = type(self)
        err = cls.__new__(cls, self.msg)
        state = self.__dict__.copy()
        state["received_at"] = _now()
        state["request"] = request
        err.__dict__ = state
        return err

    # -- catalog knowledge ---------------------------------------------------------------------
    @property
    def entry(self) -> CatalogEntry | None:
        """The catalog entry of `code`, if Binance documents it."""
        return catalog().get(self.code) if self.code is not None else None

    @property
    def name(self) -> str | None:
        entry = self.entry
        return entry.display_name if entry is not None else None

    @property
    def params(self) -> Mapping[str, object]:
        """Placeholder values by name, typed: `banned_until` datetime, `limit` int, `interval`..."""
        if self._params is None:
            self._params = MappingProxyType(typed_params(self._param_names, self._values))
        return self._params

    @property
    def banned_until(self) -> datetime | None:
        value = self.params.get("banned_until")
        if isinstance(value, datetime):
            return value
        if self.http_status == 418 and self.retry_after is not None and self.received_at:
            return datetime.fromtimestamp(self.received_at, tz=UTC) + timedelta(
                seconds=self.retry_after
            )
        return None

    @property
    def limit(self) -> int | None:
        value = self.params.get("limit")
        return value if isinstance(value, int) else None

    @property
    def interval(self) -> Interval | None:
        value = self.params.get("interval")
        return value if isinstance(value, Interval) else None

    @property
    def param(self) -> str | None:
        """The request parameter Binance names as the problem, when it names one."""
        value = self.params.get("param")
        if isinstance(value, str):
            return value
        return None

    @property
    def filter(self) -> str | None:
        """The exchange filter that failed ('PRICE_FILTER', 'LOT_SIZE', ...), for filter failures."""
        t = self._template_obj
        if t is not None and t.filter:
            return t.filter
        value = self.params.get("filter")
        return value if isinstance(value, str) else None

    @property
    def may_have_executed(self) -> bool:
        """True when the request can have changed state on the exchange (never assume it did not)."""
        if self._may_have_executed is not None:
            return self._may_have_executed
        entry = self.entry
        return entry.may_have_executed if entry is not None else False

    @property
    def recovery(self) -> Recovery:
        """What this error calls for; reads that may have executed are simply retried."""
        if self._recovery is not None:
            rec = self._recovery
        elif self._template_obj is not None and self._template_obj.recovery is not None:
            rec = self._template_obj.recovery
        else:
            rec = catalog().families[self.family].recovery
        if self.request is not None and self.request.is_read:
            return Recovery.RETRY if rec is Recovery.RECONCILE else rec
        if rec is Recovery.RETRY and self._may_have_executed:
            # A write that may have executed is never re-sent blindly, whatever the code says.
            return Recovery.RECONCILE
        return rec

    # -- presentation ---------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output and structured logs (secrets were never stored)."""
        params = {
            k: (
                v.isoformat()
                if isinstance(v, datetime)
                else str(v)
                if isinstance(v, Interval)
                else v
            )
            for k, v in self.params.items()
        }
        return {
            "type": type(self).__name__,
            "code": self.code,
            "name": self.name,
            "family": self.family.value,
            "recovery": self.recovery.value,
            "msg": self.msg,
            "template": self.template,
            "params": params,
            "http_status": self.http_status,
            "retry_after": self.retry_after,
            "may_have_executed": self.may_have_executed,
            "used_weight": dict(self.used_weight),
            "order_count": dict(self.order_count),
            "request": str(self.request) if self.request else None,
        }

    def __str__(self) -> str:
        head = (
            f"[{self.code} {self.name or ''}]".replace(" ]", "]") if self.code is not None else ""
        )
        where = []
        if self.http_status is not None:
            where.append(f"HTTP {self.http_status}")
        if self.request is not None:
            where.append(str(self.request))
        tail = f" ({', '.join(where)})" if where else ""
        return f"{head} {self.msg}{tail}".strip()

    def __repr__(self) -> str:
        fields = [f"code={self.code!r}"]
        if self.name:
            fields.append(f"name={self.name!r}")
        fields.append(f"msg={self.msg!r}")
        if self.http_status is not None:
            fields.append(f"http_status={self.http_status}")
        if self._values:
            fields.append(f"params={dict(self.params)!r}")
        if self.retry_after is not None:
            fields.append(f"retry_after={self.retry_after}")
        if self.request is not None:
            fields.append(f"request='{self.request}'")
        fields.append(f"recovery={self.recovery.value!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    def __reduce__(self) -> tuple[Any, ...]:
        state = {
            k: dict(v) if isinstance(v, MappingProxyType) else v for k, v in self.__dict__.items()
        }
        state["_params"] = None  # derived again on demand
        return (_rebuild, (type(self), state))


def _rebuild(cls: type[BinanceError], state: dict[str, Any]) -> BinanceError:
    err = cls.__new__(cls)
    err.args = (state.get("msg", ""),)
    err.__dict__.update(state)
    return err


class TransportError(BinanceError):
    """No HTTP answer: the connection failed, was reset or closed, or timed out.

    `reached_server` says whether the request can have reached Binance: False only when the
    connection was never established, so only then is an order certainly not executed.
    """

    family = Family.TRANSPORT
    reached_server: ClassVar[bool | None] = None

    @property
    def may_have_executed(self) -> bool:
        if self._may_have_executed is not None:
            return self._may_have_executed
        return self.reached_server is not False

    @property
    def recovery(self) -> Recovery:
        if self._recovery is not None:
            return self._recovery
        if not self.may_have_executed or (self.request is not None and self.request.is_read):
            return Recovery.RETRY
        return Recovery.RECONCILE


class ConnectFailedError(TransportError):
    """The connection was refused, unreachable or failed its handshake: nothing was sent."""

    reached_server = False


class ConnectionDroppedError(TransportError):
    """The connection was reset (ECONNRESET) or closed before a full answer arrived."""

    reached_server = True


class RequestTimeoutError(TransportError):
    """No answer within the timeout; Binance may still execute the request."""

    reached_server = True


class ExecutionUnknownError(BinanceError):
    """A 5XX answer, -1006 or -1007: the request may or may not have been executed. Reconcile."""

    family = Family.EXECUTION_UNKNOWN

    @property
    def may_have_executed(self) -> bool:
        return True if self._may_have_executed is None else self._may_have_executed


class RateLimitedError(BinanceError):
    """A rate limit was hit (HTTP 429). Wait `retry_after` seconds; continuing earns an IP ban."""

    family = Family.RATE_LIMITED


class IpBannedError(RateLimitedError):
    """The IP is banned (HTTP 418, "IP banned until ..."); `banned_until` says until when."""

    family = Family.IP_BANNED


class ClockSkewError(BinanceError):
    """-1021: the request's timestamp was outside recvWindow. Resync the clock; retrying is safe."""

    family = Family.CLOCK_SKEW


class ServerBusyError(BinanceError):
    """Binance failed the request without processing it (-1001, -1008, -1016). Retry later."""

    family = Family.SERVER_BUSY


class AuthError(BinanceError):
    """The API key, signature or permissions were refused. Retrying cannot help."""

    family = Family.AUTH


class WafBlockedError(BinanceError):
    """HTTP 403 from Binance's web application firewall: slow down; avoid SQL-like values."""

    family = Family.WAF_BLOCKED


class InvalidRequestError(BinanceError):
    """The request is malformed or not allowed; `param` names the parameter when Binance does."""

    family = Family.INVALID_REQUEST


class OrderRejectedError(BinanceError):
    """The order was rejected and does not exist; `filter` names a failed filter."""

    family = Family.ORDER_REJECTED


class CancelRejectedError(BinanceError):
    """-2011: the cancel was rejected. 'Unknown order sent.' calls for a query, not a conclusion."""

    family = Family.CANCEL_REJECTED


class OrderNotFoundError(BinanceError):
    """-2013: no such order: not placed (or not visible yet, right after an unknown outcome)."""

    family = Family.ORDER_NOT_FOUND


class OrderArchivedError(BinanceError):
    """-2026 ORDER_ARCHIVED: the order existed, was canceled or expired with no executed quantity
    over 90 days ago, and has been archived (errors.md).

    Deliberately not an OrderNotFoundError: reconciliation reads "not found" as "never placed"
    and may send the order again, while an archived order is final and must never be re-sent.
    Its catalog family stays ORDER_NOT_FOUND (nothing to retry); the type is what differs.
    """

    family = Family.ORDER_NOT_FOUND


class UnclassifiedError(BinanceError):
    """An error binguard cannot place in a family."""

    family = Family.UNCLASSIFIED


class UnknownCodeError(BinanceError):
    """Marker base for codes missing from the catalog; concrete classes also inherit their family."""


class UnknownCodeExecutionUnknownError(UnknownCodeError, ExecutionUnknownError):
    """An undocumented 10xx code: treated as 'execution unknown' to stay safe."""


class UnknownCodeInvalidRequestError(UnknownCodeError, InvalidRequestError):
    """An undocumented 11xx/12xx code (request issues)."""


class UnknownCodeOrderRejectedError(UnknownCodeError, OrderRejectedError):
    """An undocumented 20xx code (order issues)."""


class UnknownCodeUnclassifiedError(UnknownCodeError, UnclassifiedError):
    """An undocumented code outside Binance's ranges."""


BY_FAMILY: Mapping[Family, type[BinanceError]] = MappingProxyType(
    {
        Family.TRANSPORT: TransportError,
        Family.EXECUTION_UNKNOWN: ExecutionUnknownError,
        Family.RATE_LIMITED: RateLimitedError,
        Family.IP_BANNED: IpBannedError,
        Family.CLOCK_SKEW: ClockSkewError,
        Family.SERVER_BUSY: ServerBusyError,
        Family.AUTH: AuthError,
        Family.WAF_BLOCKED: WafBlockedError,
        Family.INVALID_REQUEST: InvalidRequestError,
        Family.ORDER_REJECTED: OrderRejectedError,
        Family.CANCEL_REJECTED: CancelRejectedError,
        Family.ORDER_NOT_FOUND: OrderNotFoundError,
        Family.UNCLASSIFIED: UnclassifiedError,
    }
)

# Codes whose meaning a family alone cannot carry: checked before the catalog's family.
BY_CODE: Mapping[int, type[BinanceError]] = MappingProxyType({-2026: OrderArchivedError})

UNKNOWN_CODE_BY_FAMILY: Mapping[Family, type[BinanceError]] = MappingProxyType(
    {
        Family.EXECUTION_UNKNOWN: UnknownCodeExecutionUnknownError,
        Family.INVALID_REQUEST: UnknownCodeInvalidRequestError,
        Family.ORDER_REJECTED: UnknownCodeOrderRejectedError,
    }
)


def error_class(code: int | None, template: Template | None = None) -> type[BinanceError]:
    """The exception class for a code (and the message template it matched, which may refine it)."""
    if template is not None and template.family is not None:
        return BY_FAMILY[template.family]
    if code is None:
        return UnclassifiedError
    special = BY_CODE.get(code)
    if special is not None:
        return special
    entry = catalog().get(code)
    if entry is not None:
        return BY_FAMILY[entry.family]
    family = catalog().family_of(code)
    if family is Family.UNCLASSIFIED:
        return UnknownCodeUnclassifiedError
    return UNKNOWN_CODE_BY_FAMILY.get(family, BY_FAMILY[family])
