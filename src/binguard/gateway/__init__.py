"""binguard gateway: one local endpoint that keeps any bot — any library, any language — unbanned.

Bots change only their base URL (`http://127.0.0.1:8090` instead of `https://api.binance.com`)
and keep their own keys: requests go upstream byte for byte, through one rate budget for the
whole IP, a ban breaker and safe retries (see app.py, forward.py, gate.py, answers.py).
"""

from .answers import GATEWAY_HEADER
from .app import Gateway
from .config import PRESETS, ConfigError, GatewayConfig
from .gate import Gate

__all__ = ["GATEWAY_HEADER", "PRESETS", "ConfigError", "Gate", "Gateway", "GatewayConfig"]
