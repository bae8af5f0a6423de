"""Prometheus metrics of one server (its own registry, so several apps in one process do not collide).

=============================================== =============================================================
``workbench_copilot_requests_total``            requests by ``model`` (id@version), ``stage`` and ``status``
``workbench_copilot_request_seconds``           request latency histogram (to the last byte, streams too)
``workbench_copilot_tokens_total``              tokens by ``direction`` (``input``, ``output``)
``workbench_copilot_batch_size``                requests per shared ``generate_batch`` call
``workbench_copilot_in_flight``                 requests being answered now
``workbench_copilot_cache_lookups_total``       semantic cache lookups by ``result`` (``hit``, ``miss``)
``workbench_copilot_cache_hit_ratio``           hits over lookups since the server started
``workbench_copilot_disconnects_total``         streams whose client left before the end
=============================================== =============================================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics:
    """The server's counters, gauges and histograms."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "workbench_copilot_requests", "Chat completion requests.", ["model", "stage", "status"], registry=r
        )
        self.latency = Histogram(
            "workbench_copilot_request_seconds", "Request latency.", ["model"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.tokens = Counter("workbench_copilot_tokens", "Tokens processed.", ["direction"], registry=r)
        self.batch_size = Histogram(
            "workbench_copilot_batch_size", "Requests per shared generate call.", buckets=BATCH_BUCKETS, registry=r
        )
        self.in_flight = Gauge("workbench_copilot_in_flight", "Requests being answered.", registry=r)
        self.cache = Counter("workbench_copilot_cache_lookups", "Semantic cache lookups.", ["result"], registry=r)
        self.cache_ratio = Gauge("workbench_copilot_cache_hit_ratio", "Cache hits over lookups.", registry=r)
        self.disconnects = Counter("workbench_copilot_disconnects", "Streams left by their client.", registry=r)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
