"""The resilient Spot connector: orders without loss or duplication, a budget that keeps it unbanned,
clock sync, safe retries, WebSocket streams first. See `SpotConnector`."""

from .client import SpotConnector
from .journal import JournalEntry, JournalError, OrderJournal, Stage
from .models import Account, Balance, BookTicker, Depth, Fill, Order, ResponseFormatError, Trade
from .options import ConnectorOptions

__all__ = [
    "Account",
    "Balance",
    "BookTicker",
    "ConnectorOptions",
    "Depth",
    "Fill",
    "JournalEntry",
    "JournalError",
    "Order",
    "OrderJournal",
    "ResponseFormatError",
    "SpotConnector",
    "Stage",
    "Trade",
]
