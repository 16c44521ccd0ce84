"""The exchange core: order books with price-time priority, matching, balances, events, flow."""

from .core import Engine
from .events import Event, EventKind, Listener
from .orders import Fill, Order, Trade

__all__ = ["Engine", "Event", "EventKind", "Fill", "Listener", "Order", "Trade"]
