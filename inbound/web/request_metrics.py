"""Counts and latencies of HTTP requests: plain numbers while requests run, Prometheus
families when scraped.

Every request adds to these. prometheus_client's labelled counters and histograms take a lock
and walk the bucket list in Python on each ``inc`` and ``observe``; for a GET by ``userName``
that cost as much as the token check. Requests are observed on the event loop's thread only
(:class:`~inbound.web.request_log.RequestObserver` wraps the whole app), so plain integers do.
A scrape may run on another thread while requests go on: it reads each figure once, and a
histogram's count is the sum of the buckets it read, so the exposition is consistent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

REQUESTS = "scim_sync_http_requests"
LATENCY = "scim_sync_http_request_duration_seconds"
STAGED = "scim_sync_staged_changes"


class _Latency:
    __slots__ = ("buckets", "total")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        """Observations per bucket, not cumulative; the last one is +Inf."""
        self.total = 0.0


class RequestMetrics(Collector):
    """``scim_sync_http_requests_total`` by route template, method and status;
    ``scim_sync_http_request_duration_seconds`` by route template and method;
    ``scim_sync_staged_changes_total`` by resource kind and operation."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self._bounds = tuple(float(b) for b in buckets)
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[tuple[str, str], _Latency] = {}
        self._staged: dict[tuple[str, str], int] = {}

    def observe(
        self, route: str, method: str, status: int, seconds: float, staged: tuple[str, str] | None
    ) -> None:
        key = (route, method, str(status))
        self._requests[key] = self._requests.get(key, 0) + 1
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[(route, method)] = _Latency(len(self._bounds) + 1)
        latency.buckets[bisect_left(self._bounds, seconds)] += 1
        latency.total += seconds
        if staged is not None:
            self._staged[staged] = self._staged.get(staged, 0) + 1

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            REQUESTS,
            "HTTP requests answered, by route template (never the raw path), method and status.",
            labels=["route", "method", "status"],
        )
        for key, count in list(self._requests.items()):
            requests.add_metric(key, count)
        latency = HistogramMetricFamily(
            LATENCY,
            "Time to answer an HTTP request, by route template and method.",
            labels=["route", "method"],
        )
        bounds = [*(repr(b) for b in self._bounds), "+Inf"]  # as prometheus_client writes them
        for route_method, observed in list(self._latency.items()):
            counts, total = list(observed.buckets), observed.total
            cumulative, running = [], 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric(route_method, cumulative, total)
        staged = CounterMetricFamily(
            STAGED,
            "SCIM writes accepted into staging, by resource kind and operation.",
            labels=["kind", "operation"],
        )
        for kind_operation, count in list(self._staged.items()):
            staged.add_metric(kind_operation, count)
        return [requests, latency, staged]
