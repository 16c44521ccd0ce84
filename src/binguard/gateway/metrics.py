"""The gateway's Prometheus metrics (prometheus-client), in a registry of its own.

What issue 14 (item 8) asks for, and where it is (every name starts `binguard_gateway_`):

    upstream requests by endpoint, status   upstream_requests_total{endpoint,status}
    weight used and limit per window        used{window}, limit{window}
    local answers by reason                 local_answers_total{reason}: refused, paused,
                                            banned, unknown, failed, draining, forbidden, cache,
                                            stream_gap, keys (answers.py); queued requests are not
                                            answered locally but held: queued_total{endpoint}
    cache hits and misses                   cache_hits_total{cache},
                                            cache_misses_total{cache,reason}
    queue wait                              queue_wait_seconds (histogram)
    upstream latency                        upstream_latency_seconds (histogram)
    upstream and bot sockets                upstream_sockets{kind}, bot_sockets{kind}
    reconnects                              upstream_stream_reconnects

Labels are bounded and carry no secret: `endpoint` is a path of the cost table or 'other' (never
a query string, key or signature), `status` an HTTP status or an exception class name, `reason`
one of answers.py's reasons (or a miss reason below), `window` a limit's key such as
'REQUEST_WEIGHT:1M', `cache` the endpoint's path after /api/v3/ (depth, klines, ticker/price...).

A cache miss (the request went upstream) has one of three reasons:
    not_ready  the cache serves this request's kind but is not serving yet: its stream has not
               spoken since it (re)started, its book is syncing, its series is backfilling;
    not_held   the cache does not hold this answer: a query it does not keep (no symbol, other
               parameters, a depth limit over the book's, candles older than the kept rows),
               or exchangeInfo for a query not kept (never asked, or dropped once past
               its TTL by a sweep);
    expired    it held the answer, but longer than its TTL (exchangeInfo).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from binguard.backends import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NOT_READY, NOT_HELD, EXPIRED = "not_ready", "not_held", "expired"
QUEUED_S = 0.005  # a wait for budget longer than a store's answer takes: the request was held
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Counters, gauges and histograms of one gateway."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        p = "binguard_gateway_"
        self.requests = Counter(
            p + "upstream_requests", "Requests sent upstream", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            p + "upstream_latency_seconds",
            "Upstream round trip",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.local = Counter(
            p + "local_answers", "Answers made by the gateway, by reason", ["reason"], registry=r
        )
        self.retries = Counter(p + "retries", "Reads re-sent", ["endpoint"], registry=r)
        self.queue_wait = Histogram(
            p + "queue_wait_seconds", "Wait for budget", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.used = Gauge(p + "used", "Used in the current window", ["window"], registry=r)
        self.limit = Gauge(p + "limit", "Limit per window (after margin)", ["window"], registry=r)
        self.banned = Gauge(p + "banned", "1 while a ban is known", registry=r)
        self.paused = Gauge(p + "paused", "1 while a 429 pause is in force", registry=r)
        self.bot_sockets = Gauge(p + "bot_sockets", "Bot WebSockets open", ["kind"], registry=r)
        self.upstream_sockets = Gauge(
            p + "upstream_sockets", "Upstream WebSockets open", ["kind"], registry=r
        )
        self.queued = Counter(
            p + "queued", "Requests held for budget, then sent upstream", ["endpoint"], registry=r
        )
        self.cache_hits = Counter(
            p + "cache_hits", "Requests answered from a cache", ["cache"], registry=r
        )
        self.cache_misses = Counter(
            p + "cache_misses",
            "Requests a cache could not answer (sent upstream), by cache and reason",
            ["cache", "reason"],
            registry=r,
        )
        self.reconnects = Gauge(
            p + "upstream_stream_reconnects", "Reconnects of the shared stream socket", registry=r
        )

    def upstream(self, endpoint: str, status: str, seconds: float) -> None:
        self.requests.labels(endpoint, status).inc()
        self.latency.observe(seconds)

    def hit(self, path: str) -> None:
        """A request answered from the cache of `path` (an /api/v3/ path)."""
        self.cache_hits.labels(_cache_name(path)).inc()

    def miss(self, path: str, reason: str) -> None:
        """A cacheable request sent upstream: NOT_READY, NOT_HELD or EXPIRED."""
        self.cache_misses.labels(_cache_name(path), reason).inc()

    def waited(self, endpoint: str, seconds: float) -> None:
        """A request's wait for budget (QUEUED_S or longer: it was held in the queue)."""
        self.queue_wait.observe(seconds)
        if seconds >= QUEUED_S:
            self.queued.labels(endpoint).inc()

    def render(self, snap: Snapshot) -> bytes:
        """The text exposition, with the budget gauges taken from `snap`."""
        for u in snap.usage:
            self.used.labels(u.limit.key).set(u.used)
            self.limit.labels(u.limit.key).set(u.limit.limit)
        self.banned.set(1 if snap.banned_until_ms else 0)
        self.paused.set(1 if snap.paused_until_ms else 0)
        return generate_latest(self.registry)


def _cache_name(path: str) -> str:
    return path.removeprefix("/api/v3/")
