"""Diagnoses: conclusions that no single line supports, each with the lines that do.

Every rule runs over ONE source at a time (a file, or stdin): a log is one bot's story, and an
unrelated log must neither hide a diagnosis (an earlier ban elsewhere) nor merge its episodes into
another's. Each Diagnosis names its source. Within a source, events are in line order. The
thresholds are module constants, named and documented here:

- handler_crash: any "'XError' object has no attribute 'code'" (the bot's own handler bug).
- ignored_rate_limit: a 429 (rate-limit warning) followed by a 418/"IP banned until".
- unknown_status_as_failure: -2010 "Duplicate order sent.", or -2013 within UNKNOWN_WINDOW after
  a timeout, dropped connection or execution-unknown answer.
- endpoint_not_served: -1020 in a source that shows binguard's simulator (its banner or its /_sim/
  admin URL): the simulator answers -1020 for endpoints it does not serve.
- clock_ahead / clock_behind: -1021's two messages, apart; drift fitted per episode (_clock.py).
- polling: -1003 at least POLL_MIN_EVENTS times, named endpoints (if any) that have a stream.
- reset_burst: at least BURST_MIN_EVENTS dropped connections, each within BURST_GAP of the previous.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from binguard.errors import Family, catalog

from ._clock import clock_diagnoses
from ._findings import evidence
from ._model import Diagnosis, Event, Evidence, InputReport, iso

POLL_MIN_EVENTS: Final = 3
BURST_MIN_EVENTS: Final = 5
BURST_GAP: Final = 30.0  # s
UNKNOWN_WINDOW: Final = 60.0  # s between an unknown outcome and the -2013 it explains
UNKNOWN_LINES: Final = 50  # the same, in lines, when the log has no timestamps
MAX_EVIDENCE: Final = 6

# REST endpoints (and ccxt calls) that bots poll, and the stream that replaces each.
_USER_STREAM: Final = "the user data stream (executionReport, outboundAccountPosition)"
POLL_STREAMS: Final = {
    "/api/v3/depth": "<symbol>@depth (diff depth) plus one snapshot",
    "/api/v3/ticker": "<symbol>@ticker",
    "/api/v3/ticker/24hr": "<symbol>@ticker",
    "/api/v3/ticker/price": "<symbol>@miniTicker or <symbol>@bookTicker",
    "/api/v3/ticker/bookTicker": "<symbol>@bookTicker",
    "/api/v3/klines": "<symbol>@kline_<interval>",
    "/api/v3/uiKlines": "<symbol>@kline_<interval>",
    "/api/v3/trades": "<symbol>@trade",
    "/api/v3/aggTrades": "<symbol>@aggTrade",
    "/api/v3/avgPrice": "<symbol>@avgPrice",
    "/api/v3/openOrders": _USER_STREAM,
    "/api/v3/order": _USER_STREAM,
    "/api/v3/allOrders": _USER_STREAM,
    "/api/v3/account": _USER_STREAM,
    "/api/v3/myTrades": _USER_STREAM,
    "fetch_order_book()": "<symbol>@depth (watch_order_book)",
    "fetch_ticker()": "<symbol>@ticker (watch_ticker)",
    "fetch_tickers()": "!ticker@arr (watch_tickers)",
    "fetch_ohlcv()": "<symbol>@kline_<interval> (watch_ohlcv)",
    "fetch_trades()": "<symbol>@trade (watch_trades)",
    "fetch_order()": _USER_STREAM + " (watch_orders)",
    "fetch_orders()": _USER_STREAM + " (watch_orders)",
    "fetch_open_orders()": _USER_STREAM + " (watch_orders)",
    "fetch_my_trades()": _USER_STREAM + " (watch_my_trades)",
    "fetch_balance()": _USER_STREAM + " (watch_balance)",
}


@dataclass(frozen=True, slots=True)
class Context:
    """One source's events, and what the rules may cite."""

    events: Sequence[Event]
    inputs: Sequence[InputReport]
    source: int
    simulator: Evidence | None  # the simulator's banner in this source, if it shows one

    def ev(self, e: Event) -> Evidence:
        return evidence(e, [i.path for i in self.inputs])


Rule = Callable[[Context], list[Diagnosis]]


def _clock(ctx: Context) -> list[Diagnosis]:
    return clock_diagnoses(ctx.events, ctx.inputs[ctx.source].first_time, ctx.ev)


def diagnose(
    events: Sequence[Event],
    inputs: Sequence[InputReport],
    simulator: Mapping[int, Evidence] | None = None,
) -> list[Diagnosis]:
    """Every rule over each source's events; critical first, then by source.

    `simulator` maps a source index to the line where binguard's simulator shows itself."""
    by_source: dict[int, list[Event]] = {}
    for e in events:
        by_source.setdefault(e.source, []).append(e)
    out: list[Diagnosis] = []
    for source, evs in sorted(by_source.items()):
        ctx = Context(evs, inputs, source, (simulator or {}).get(source))
        for rule in RULES:
            for d in rule(ctx):
                d.source = inputs[source].path
                out.append(d)
    order = {"critical": 0, "warning": 1, "info": 2}
    out.sort(key=lambda d: order.get(d.severity, 3))  # stable: sources keep their order
    return out


def _before(a: Event, b: Event) -> bool:
    """Whether `a` was logged before `b`: by time when both have one, else by position."""
    if a.time is not None and b.time is not None and a.time != b.time:
        return a.time < b.time
    return (a.source, a.line) < (b.source, b.line)


def _spread(evs: Sequence[Event], limit: int = MAX_EVIDENCE) -> list[Event]:
    """Up to `limit` events: the first ones and the last, so evidence shows start and end."""
    if len(evs) <= limit:
        return list(evs)
    return [*evs[: limit - 1], evs[-1]]


# --- -1020 from binguard's simulator ----------------------------------------------------------


def _endpoint_not_served(ctx: Context) -> list[Diagnosis]:
    if ctx.simulator is None:
        return []
    hits = [e for e in ctx.events if e.hit.key.code == -1020]
    if not hits:
        return []
    endpoints = Counter(e.hit.endpoint for e in hits if e.hit.endpoint)
    named = ", ".join(f"{ep} ({n}x)" for ep, n in endpoints.most_common(5))
    return [
        Diagnosis(
            id="endpoint_not_served",
            severity="warning",
            title="-1020 from binguard's simulator: this endpoint is not served here",
            summary=(
                f"{len(hits)} x -1020 UNSUPPORTED_OPERATION while the bot talked to binguard's "
                f"simulator (its banner is at {ctx.simulator.where()}). The simulator answers "
                "-1020 for endpoints it does not implement (HTTP 404/405) and for retired ones "
                "(410), so these are not malformed requests" + (f": {named}." if named else ".")
            ),
            fix=(
                "Check the endpoint against the simulator's list (`binguard sim --help` and the "
                "README); keep calls the simulator does not serve out of runs against it, or run "
                "them against Binance's Spot testnet. On Binance itself, -1020 does mean the "
                "operation is not supported."
            ),
            evidence=[ctx.simulator, *(ctx.ev(e) for e in _spread(hits, MAX_EVIDENCE - 1))],
            data={"events": len(hits), "endpoints": dict(endpoints.most_common())},
        )
    ]


def _fmt_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# --- the .code AttributeError ----------------------------------------------------------------


def _handler_crash(ctx: Context) -> list[Diagnosis]:
    crashes = [e for e in ctx.events if e.hit.crash]
    if not crashes:
        return []
    kinds = Counter(str(e.hit.values.get("exception", "?")) for e in crashes)
    names = ", ".join(f"{k} ({n})" for k, n in kinds.most_common())
    return [
        Diagnosis(
            id="handler_crash",
            severity="critical",
            title="The bot's error handling is broken",
            summary=(
                f"{len(crashes)} line(s) show the bot's exception handler crashing with "
                f"\"object has no attribute 'code'\" on {names}. The handler assumes every "
                "exception is a Binance API error with a code; a network failure has none, so the "
                "handler itself raised and the original failure was never handled (no retry, no "
                "reconciliation, possibly a dead polling loop)."
            ),
            fix=(
                "Catch network exceptions separately from Binance API errors, or read the code "
                "with getattr(exc, 'code', None). With binguard, classify(exc) turns any exception "
                "into a typed error whose code, family and recovery always exist."
            ),
            evidence=[ctx.ev(e) for e in _spread(crashes)],
            data={"lines": len(crashes), "exceptions": dict(kinds)},
        )
    ]


# --- 429 then 418 ------------------------------------------------------------------------------


def _ignored_rate_limit(ctx: Context) -> list[Diagnosis]:
    bans = [e for e in ctx.events if e.hit.key.family is Family.IP_BANNED]
    warnings = [e for e in ctx.events if e.hit.key.family is Family.RATE_LIMITED]
    if not bans or not warnings:
        return []
    first_ban = min(bans, key=lambda e: (e.time is None, e.time or 0.0, e.source, e.line))
    before = [w for w in warnings if _before(w, first_ban)]
    if not before:
        return []
    before.sort(key=lambda e: (e.time or 0.0, e.source, e.line))
    data: dict[str, object] = {
        "warnings_before_ban": len(before),
        "first_warning": iso(before[0].time),
        "ban_at": iso(first_ban.time),
        "ban_lines": len(bans),
    }
    span = ""
    if before[0].time is not None and first_ban.time is not None:
        gap = first_ban.time - before[0].time
        data["seconds_from_first_warning_to_ban"] = round(gap, 3)
        span = f" over {_fmt_duration(gap)}"
    until = first_ban.hit.values.get("banned_until")
    ban_text = ""
    if isinstance(until, str):
        data["banned_until"] = until
        ban_text = f" The ban lasts until {until}"
        if first_ban.time is not None:
            length = datetime.fromisoformat(until).timestamp() - first_ban.time
            data["ban_seconds"] = round(length, 3)
            ban_text += f" ({_fmt_duration(length)} after the ban line)"
        ban_text += "."
    evidence = [*_spread(before, MAX_EVIDENCE - 1), first_ban]
    return [
        Diagnosis(
            id="ignored_rate_limit",
            severity="critical",
            title="The client kept sending after the 429 warning, and got its IP banned",
            summary=(
                f"{len(before)} rate-limit warning(s) (HTTP 429 / -1003 / -1015){span} came before "
                f"the first IP ban (HTTP 418 / 'IP banned until').{ban_text} Binance answers 429 "
                "first and bans only clients that keep sending; every request during the ban can "
                "extend it."
            ),
            fix=(
                "On a 429, stop every request from this IP for Retry-After seconds (not just the "
                "failing call) and do not retry 418s at all before the ban ends. "
                + catalog().families[Family.IP_BANNED].fix
            ),
            evidence=[ctx.ev(e) for e in evidence],
            data=data,
        )
    ]


# --- -2010 duplicates / -2013 after a timeout ------------------------------------------------


def _is_unknown_outcome(e: Event) -> bool:
    fam = e.hit.key.family
    if fam is Family.EXECUTION_UNKNOWN:
        return True
    return fam is Family.TRANSPORT and e.hit.key.name in ("REQUEST_TIMEOUT", "CONNECTION_DROPPED")


def _unknown_status(ctx: Context) -> list[Diagnosis]:
    last_unknown: dict[int, Event] = {}
    pairs: list[tuple[Event, Event]] = []
    duplicates: list[Event] = []
    for e in ctx.events:
        if _is_unknown_outcome(e) and not e.hit.crash:
            last_unknown[e.source] = e
            continue
        code = e.hit.key.code
        if code == -2010 and "Duplicate order" in e.hit.matched:
            duplicates.append(e)
        elif code == -2013:
            prior = last_unknown.get(e.source)
            if prior is not None and _close_after(prior, e):
                pairs.append((prior, e))
    if not pairs and not duplicates:
        return []
    parts = []
    if duplicates:
        parts.append(
            f"{len(duplicates)} '-2010 Duplicate order sent.': an order was sent again with a "
            "client order id that is already live, so the first attempt had reached Binance"
        )
    if pairs:
        parts.append(
            f"{len(pairs)} '-2013 Order does not exist.' within {UNKNOWN_WINDOW:.0f} s after a "
            "timeout, dropped connection or 5XX: the order was looked up (or cancelled) before it "
            "became visible, and the bot concluded it had failed"
        )
    evidence: list[Event] = []
    for prior, nf in pairs[:2]:
        evidence += [prior, nf]
    evidence += duplicates[: MAX_EVIDENCE - len(evidence)]
    return [
        Diagnosis(
            id="unknown_status_as_failure",
            severity="critical",
            title="Unknown execution status handled as failure",
            summary=(
                "; ".join(parts)
                + ". A timeout or 5XX means the order may or may not exist; treating it as failed "
                "leads to duplicate or orphaned orders."
            ),
            fix=catalog().families[Family.EXECUTION_UNKNOWN].fix
            + " Send a newClientOrderId with every order so it can be looked up after a timeout.",
            evidence=[ctx.ev(e) for e in evidence],
            data={"duplicates": len(duplicates), "not_found_after_unknown": len(pairs)},
        )
    ]


def _close_after(prior: Event, e: Event) -> bool:
    if prior.time is not None and e.time is not None:
        return 0 <= e.time - prior.time <= UNKNOWN_WINDOW
    return 0 < e.line - prior.line <= UNKNOWN_LINES


# --- -1003 from polling ---------------------------------------------------------------------


def _stream_for(endpoint: str) -> str | None:
    method, _, path = endpoint.rpartition(" ")
    if method and method != "GET":
        return None  # placing or cancelling orders is not polling
    return POLL_STREAMS.get(path)


def _polling(ctx: Context) -> list[Diagnosis]:
    hits = [e for e in ctx.events if e.hit.key.code == -1003]
    if len(hits) < POLL_MIN_EVENTS:
        return []
    endpoints = Counter(e.hit.endpoint for e in hits if e.hit.endpoint)
    polled = {ep: _stream_for(ep) for ep in endpoints}
    streams = {ep: s for ep, s in polled.items() if s is not None}
    if endpoints and not streams:
        return []
    if streams:
        listing = "; ".join(
            f"{ep} ({endpoints[ep]}x) -> {s}"
            for ep, s in sorted(streams.items(), key=lambda kv: -endpoints[kv[0]])
        )
        where = f" The endpoints hit: {listing}."
    else:
        where = " The log does not name the endpoints; look for loops that call REST on a timer."
    evidence = [e for e in hits if e.hit.endpoint in streams] or hits
    return [
        Diagnosis(
            id="polling",
            severity="warning",
            title="Repeated -1003 from polling: move to WebSocket streams",
            summary=(
                f"-1003 TOO_MANY_REQUESTS came back {len(hits)} time(s): the request weight per "
                f"minute ran out, which polling market data or order status does.{where}"
            ),
            fix=(
                "Subscribe to the WebSocket streams for market data and to the user data stream for "
                "orders and balances, and keep REST for placing orders and occasional snapshots. "
                + catalog().families[Family.RATE_LIMITED].fix
            ),
            evidence=[ctx.ev(e) for e in _spread(evidence)],
            data={
                "events": len(hits),
                "endpoints": dict(endpoints.most_common()),
                "streams": streams,
            },
        )
    ]


# --- connection resets ----------------------------------------------------------------------


def _reset_bursts(ctx: Context) -> list[Diagnosis]:
    resets = sorted(
        (
            e
            for e in ctx.events
            if e.hit.key.name == "CONNECTION_DROPPED" and e.time is not None and not e.hit.crash
        ),
        key=lambda e: e.time or 0.0,
    )
    bursts: list[list[Event]] = []
    run: list[Event] = []
    for e in resets:
        if run and (e.time or 0.0) - (run[-1].time or 0.0) > BURST_GAP:
            if len(run) >= BURST_MIN_EVENTS:
                bursts.append(run)
            run = []
        run.append(e)
    if len(run) >= BURST_MIN_EVENTS:
        bursts.append(run)
    if not bursts:
        return []
    biggest = max(bursts, key=len)
    length = (biggest[-1].time or 0.0) - (biggest[0].time or 0.0)
    evidence = [b[0] for b in bursts[: MAX_EVIDENCE - 1]]
    if biggest[-1] not in evidence:
        evidence.append(biggest[-1])
    return [
        Diagnosis(
            id="reset_burst",
            severity="warning",
            title="Bursts of connection resets",
            summary=(
                f"{len(bursts)} burst(s) of dropped connections (ECONNRESET, 'Connection aborted', "
                f"'Server disconnected'); the largest had {len(biggest)} in "
                f"{_fmt_duration(length)} from {iso(biggest[0].time)}. Resets in bursts point to "
                "the network path or to Binance closing connections under load, not to a bad "
                "request; a request in flight during a reset may still have executed."
            ),
            fix=(
                "Back off with jitter instead of reconnecting at once, reuse one HTTP session, and "
                "reconcile orders that were in flight. " + catalog().families[Family.TRANSPORT].fix
            ),
            evidence=[ctx.ev(e) for e in evidence],
            data={
                "bursts": [
                    {"start": iso(b[0].time), "end": iso(b[-1].time), "events": len(b)}
                    for b in bursts[:50]
                ],
                "resets": len(resets),
            },
        )
    ]


# The rules, in the order their diagnoses are listed within a severity (diagnose() reads this).
RULES: Final[tuple[Rule, ...]] = (
    _handler_crash,
    _ignored_rate_limit,
    _unknown_status,
    _endpoint_not_served,
    _clock,
    _polling,
    _reset_bursts,
)
