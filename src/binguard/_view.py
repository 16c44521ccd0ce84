"""Terminal views at 80 columns: what the demo's and the gateway's live dashboards share.

Both draw a two-column panel (a 17-character label, a value); a value that lists counts shows the
largest first and as many as fit, then "+N more". Shared by the top-level parts that draw (demo,
gateway); it knows nothing of Binance.
"""

from __future__ import annotations

from collections import Counter

VALUE_WIDTH = 58  # 80 columns - borders and padding (4) - label (17) - gap (1)


def top(counts: Counter[str], width: int = VALUE_WIDTH) -> str:
    """`key×n` entries, largest first, as many as fit in `width` ("none" when empty)."""
    out = ""
    items = counts.most_common()
    for i, (key, n) in enumerate(items):
        item = f"{key}×{n}"
        more = f" +{len(items) - i} more"
        if len(out) + len(item) + 2 + len(more) > width and i < len(items) - 1:
            return f"{out}{more}".strip()
        out = f"{out}, {item}" if out else item
    return out or "none"
