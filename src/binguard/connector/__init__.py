"""The resilient Spot connector: orders without loss or duplication, a budget that keeps it unbanned,
clock sync, safe retries, WebSocket streams first. See `SpotConnector`."""

from .checks import FilterError, ParamError
from .client import SpotConnector
from .edit_models import Amendment, CancelReplaceResult
from .journal import JournalEntry, JournalError, OrderJournal, Stage
from .list_models import Leg, OrderList
from .market_models import AggTrade, AvgPrice, Candle, PublicTrade, Ticker
from .models import Account, Balance, BookTicker, Depth, Fill, Order, ResponseFormatError, Trade
from .options import ConnectorOptions
from .streams import StreamEvent, Subscription

__all__ = [
    "Account",
    "AggTrade",
    "Amendment",
    "AvgPrice",
    "Balance",
    "BookTicker",
    "CancelReplaceResult",
    "Candle",
    "ConnectorOptions",
    "Depth",
    "Fill",
    "FilterError",
    "JournalEntry",
    "JournalError",
    "Leg",
    "Order",
    "OrderJournal",
    "OrderList",
    "ParamError",
    "PublicTrade",
    "ResponseFormatError",
    "SpotConnector",
    "Stage",
    "StreamEvent",
    "Subscription",
    "Ticker",
    "Trade",
]
