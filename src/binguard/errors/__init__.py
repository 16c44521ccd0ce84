"""Binance's errors as data and types: the catalog, one exception per recovery family, classify().

    >>> from binguard.errors import classify
    >>> err = classify(b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}')
    >>> type(err).__name__, err.recovery.value
    ('ClockSkewError', 'resync_clock')

See `_exceptions` for the exception tree.
"""

from ._bodies import HttpReply
from ._catalog import Catalog, CatalogEntry, Family, FamilyInfo, Recovery, Template, catalog
from ._classify import classify
from ._exceptions import (
    AuthError,
    BinanceError,
    CancelRejectedError,
    ClockSkewError,
    ConnectFailedError,
    ConnectionDroppedError,
    ExecutionUnknownError,
    InvalidRequestError,
    IpBannedError,
    OrderArchivedError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerBusyError,
    TransportError,
    UnclassifiedError,
    UnknownCodeError,
    UnknownCodeExecutionUnknownError,
    UnknownCodeInvalidRequestError,
    UnknownCodeOrderRejectedError,
    UnknownCodeUnclassifiedError,
    WafBlockedError,
    error_class,
)
from ._foreign import translate_exception
from ._headers import RateHeaders, parse_rate_headers, parse_rate_limits
from ._params import (
    REDACTED,
    Interval,
    RequestInfo,
    epoch_to_datetime,
    is_secret,
    redact_text,
    safe_str,
)
from ._text import classify_network, classify_text, has_catalog_message, network_vocabulary

__all__ = [
    "REDACTED",
    "AuthError",
    "BinanceError",
    "CancelRejectedError",
    "Catalog",
    "CatalogEntry",
    "ClockSkewError",
    "ConnectFailedError",
    "ConnectionDroppedError",
    "ExecutionUnknownError",
    "Family",
    "FamilyInfo",
    "HttpReply",
    "Interval",
    "InvalidRequestError",
    "IpBannedError",
    "OrderArchivedError",
    "OrderNotFoundError",
    "OrderRejectedError",
    "RateHeaders",
    "RateLimitedError",
    "Recovery",
    "RequestInfo",
    "RequestTimeoutError",
    "ServerBusyError",
    "Template",
    "TransportError",
    "UnclassifiedError",
    "UnknownCodeError",
    "UnknownCodeExecutionUnknownError",
    "UnknownCodeInvalidRequestError",
    "UnknownCodeOrderRejectedError",
    "UnknownCodeUnclassifiedError",
    "WafBlockedError",
    "catalog",
    "classify",
    "classify_network",
    "classify_text",
    "epoch_to_datetime",
    "error_class",
    "has_catalog_message",
    "is_secret",
    "network_vocabulary",
    "parse_rate_headers",
    "parse_rate_limits",
    "redact_text",
    "safe_str",
    "translate_exception",
]
