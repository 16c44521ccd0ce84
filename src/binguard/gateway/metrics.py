"""The gateway's Prometheus metrics (prometheus-client), in a registry of its own.

Labels are bounded and carry no secret: `endpoint` is a path of the cost table or 'other' (never
a query string, key or signature), `status` an HTTP status or an exception class name, `reason`
one of answers.py's reasons, `window` a limit's key such as 'REQUEST_WEIGHT:1M'.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from binguard.backends import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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
        self.reconnects = Gauge(
            p + "upstream_stream_reconnects", "Reconnects of the shared stream socket", registry=r
        )

    def upstream(self, endpoint: str, status: str, seconds: float) -> None:
        self.requests.labels(endpoint, status).inc()
        self.latency.observe(seconds)

    def render(self, snap: Snapshot) -> bytes:
        """The text exposition, with the budget gauges taken from `snap`."""
        for u in snap.usage:
            self.used.labels(u.limit.key).set(u.used)
            self.limit.labels(u.limit.key).set(u.limit.limit)
        self.banned.set(1 if snap.banned_until_ms else 0)
        self.paused.set(1 if snap.paused_until_ms else 0)
        return generate_latest(self.registry)
