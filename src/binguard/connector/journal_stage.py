"""The journal's stages and its error (shared by journal.py and journal_records.py)."""

from __future__ import annotations

import enum


class Stage(enum.StrEnum):
    """Where an order stands between binguard and the exchange."""

    INTENT = "intent"  # decided, not sent: may be sent (a crash here means it never left)
    SENT = "sent"  # bytes may have left: the exchange may or may not have it
    ACKED = "acked"  # the exchange answered with the order
    UNKNOWN = "unknown"  # the exchange's answer was lost or ambiguous: reconcile
    FINAL = "final"  # known outcome: exists (any status) or definitely not placed


class JournalError(RuntimeError):
    """The journal cannot be used (unreadable file, wrong schema, an id reused for another order)."""
