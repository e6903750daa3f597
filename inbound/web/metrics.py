"""Prometheus metrics at ``/metrics``.

Two kinds of figures. Events this process saw (SCIM requests, staged writes, reconcile runs)
are counters and histograms kept in memory; sum them across replicas. State that lives in the
database (pending work per target, dead letters, token expiry, silence from Entra) is read at
scrape time by :class:`StateCollector`, so every replica reports the same truth, whichever
process did the work. Each registry belongs to one app, never the process-global one, so two
apps in one process (tests) never share counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Response, Router, get
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inbound.auth import SecretKind, TokenStore
from inbound.database.audit import AuditLog
from inbound.database.availability import database_unavailable
from inbound.database.entra_health import EntraHealthStore
from inbound.database.ledger import StagingLedger
from inbound.database.live_settings import LiveSettings
from inbound.token_renewal import RenewalTracker
from inbound.web.request_metrics import RequestMetrics
from reconcile.ports import SyncStatus
from reconcile.runner import RunReport

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RUN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)
_WRITES = {"POST": "create", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
_RESOURCES = {"/scim/v2/Users": "User", "/scim/v2/Groups": "Group"}


def staged_write(route: str, method: str, status: int) -> tuple[str, str] | None:
    """(resource kind, operation) when a SCIM request was an accepted write, else None."""
    if not 200 <= status < 300 or method not in _WRITES or route.endswith("/.search"):
        return None
    for prefix, kind in _RESOURCES.items():
        if route == prefix or route.startswith(prefix + "/"):
            return kind, _WRITES[method]
    return None


class _Deferred(Collector):
    """Registered at once; the state source is attached when the app is built."""

    def __init__(self) -> None:
        self.source: Collector | None = None

    def collect(self) -> Iterable[Metric]:
        return self.source.collect() if self.source is not None else []


class Metrics:
    def __init__(self, *, state_cache_seconds: float = 5.0) -> None:
        self.state_cache_seconds = state_cache_seconds
        """How long database-backed gauges are reused, so frequent scrapes stay cheap."""
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = RequestMetrics(LATENCY_BUCKETS)
        r.register(self.requests)
        self.runs = Histogram(
            "scim_sync_reconcile_run_duration_seconds",
            "Wall time of one reconcile run over every target.",
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.apply_latency = Histogram(
            "scim_sync_apply_duration_seconds",
            "Mean time per target operation within one run (run time / operations), by target.",
            ["target"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.applied = Counter(
            "scim_sync_applied",
            "Changes a target applied, by target and action.",
            ["target", "action"],
            registry=r,
        )
        self.retries = Counter(
            "scim_sync_retries",
            "Failed applies scheduled for retry, by target.",
            ["target"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "scim_sync_dead_lettered",
            "Changes a target refused for good, by target.",
            ["target"],
            registry=r,
        )
        self.unavailable = Counter(
            "scim_sync_target_unavailable_runs",
            "Runs a target cut short because it was unreachable.",
            ["target"],
            registry=r,
        )
        self.state = _Deferred()
        r.register(self.state)
        self._staged_kinds: dict[tuple[str, str, int], tuple[str, str] | None] = {}
        """What each (route, method, status) counts as a staged write; bounded like the labels."""
        self.last_entra_request_at: datetime | None = None
        self.started_at: datetime | None = None

    def observe_request(
        self, route: str, method: str, status: int, seconds: float, at: datetime
    ) -> None:
        """Every request passes here (on the event loop's thread)."""
        key = (route, method, status)
        try:
            staged = self._staged_kinds[key]
        except KeyError:
            staged = self._staged_kinds[key] = staged_write(route, method, status)
        self.requests.observe(route, method, status, seconds, staged)
        # Any SCIM request that got past authentication came from Entra (or whoever holds its
        # token); anonymous noise (401) must not reset the dead-man's switch.
        if status != 401 and route.startswith("/scim/v2"):
            self.last_entra_request_at = at

    def observe_run(self, run: Callable[[], RunReport]) -> RunReport:
        """Time one reconcile run and count what it did; the run's own errors pass through."""
        started = time.perf_counter()
        report = run()
        elapsed = time.perf_counter() - started
        self.runs.observe(elapsed)
        operations = sum(t.applied + t.retrying + t.dead for t in report.targets)
        for target in report.targets:
            for action, count in target.actions.items():
                self.applied.labels(target.target, action).inc(count)
            if target.retrying:
                self.retries.labels(target.target).inc(target.retrying)
            if target.dead:
                self.dead_lettered.labels(target.target).inc(target.dead)
            if target.unavailable is not None:
                self.unavailable.labels(target.target).inc()
            done = target.applied + target.retrying + target.dead
            if done and operations:
                # The run loop times no single apply; the run's time shared out per operation
                # is the honest figure it allows.
                share = elapsed / operations
                for _ in range(min(done, 1000)):
                    self.apply_latency.labels(target.target).observe(share)
        return report

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class StateCollector(Collector):
    """Database-backed gauges, computed when Prometheus scrapes (cached a few seconds)."""

    ledger: StagingLedger
    tokens: TokenStore
    audit: AuditLog
    live_settings: LiveSettings
    metrics: Metrics
    target_names: Sequence[str]
    clock: Callable[[], datetime]
    entra: EntraHealthStore | None = None
    renewal: RenewalTracker | None = None

    def __post_init__(self) -> None:
        self._cached: tuple[float, list[Metric]] | None = None
        self._lock = threading.Lock()
        self._audit_seen_to = 0
        """Audit events up to this id were searched for SCIM writes already."""
        self._last_write: datetime | None = None
        if self.metrics.started_at is None:
            self.metrics.started_at = self.clock()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = time.monotonic()
            if (
                self._cached is not None
                and now - self._cached[0] < self.metrics.state_cache_seconds
            ):
                return self._cached[1]
            try:
                families = self._families()
                up = 1.0
            except Exception as exc:  # a scrape must still answer; the gauge says why not
                # no traceback when the database is merely unreachable (said once elsewhere)
                log.warning(
                    "metrics state unavailable",
                    exc_info=None if database_unavailable(exc) else exc,
                )
                families, up = [], 0.0
            families.append(
                GaugeMetricFamily(
                    "scim_sync_state_up",
                    "1 when the database-backed gauges were read at this scrape.",
                    value=up,
                )
            )
            self._cached = (now, families)
            return families

    def _families(self) -> list[Metric]:
        now = self.clock()
        by_status = GaugeMetricFamily(
            "scim_sync_target_resources",
            "Staged resources per target by sync status.",
            labels=["target", "status"],
        )
        pending = GaugeMetricFamily(
            "scim_sync_pending", "Changes not yet applied (pending or retrying).", labels=["target"]
        )
        oldest = GaugeMetricFamily(
            "scim_sync_oldest_pending_age_seconds",
            "Age of the oldest change a target has yet to apply (pending or retrying); 0 when "
            "none. Dead letters and held changes wait for a person: see their own gauges.",
            labels=["target"],
        )
        held = GaugeMetricFamily(
            "scim_sync_held_changes",
            "Deletes and disables the mass-change brake holds until an operator approves them "
            "(scim-sync holds approve), by target and kind.",
            labels=["target", "kind"],
        )
        dead = GaugeMetricFamily(
            "scim_sync_dead_letters", "Changes a target refused for good.", labels=["target"]
        )
        for target in self.target_names:
            summary: dict[str, Any] = self.ledger.summary(target, now)
            for status in SyncStatus:
                by_status.add_metric([target, status.value], summary[status.value])
            pending.add_metric(
                [target], summary[SyncStatus.PENDING.value] + summary[SyncStatus.RETRYING.value]
            )
            ages = [summary["oldest_pending_seconds"], summary["oldest_retrying_seconds"]]
            oldest.add_metric([target], max((a for a in ages if a is not None), default=0.0))
            for kind, count in summary["held_changes"].items():
                held.add_metric([target, kind], count)
            dead.add_metric([target], summary[SyncStatus.DEAD.value])
        expiry = self.tokens.newest_expiry(SecretKind.SCIM)
        token = GaugeMetricFamily(
            "scim_sync_token_expiry_seconds",
            "Seconds until the newest live SCIM token expires; 0 when none is live.",
            value=max(0.0, (expiry - now).total_seconds()) if expiry else 0.0,
        )
        silence = GaugeMetricFamily(
            "scim_sync_seconds_since_last_entra_request",
            "Seconds since Entra last called (this process's requests, or any process's "
            "writes); counts from this process's start when Entra never called.",
            value=self._silence(now),
        )
        enabled = GaugeMetricFamily(
            "scim_sync_scim_enabled",
            "1 when the SCIM server is enabled.",
            value=1.0 if self.live_settings.scim_enabled() else 0.0,
        )
        families: list[Metric] = [by_status, pending, oldest, held, dead, token, silence, enabled]
        if self.renewal is not None:
            families.append(
                GaugeMetricFamily(
                    "scim_sync_token_delivery_failures",
                    "Token deliveries to the sink that failed in a row; 0 after a success.",
                    value=self.renewal.state().attempts,
                )
            )
        if self.entra is not None:
            families.extend(self._entra_families(self.entra))
        return families

    @staticmethod
    def _entra_families(entra: EntraHealthStore) -> list[Metric]:
        """Entra's side, from the last poll; absent until Entra is watched (Graph configured)."""
        state = entra.state()
        if state is None:
            return []
        quarantined = GaugeMetricFamily(
            "scim_sync_entra_job_quarantined",
            "1 while Entra's provisioning job is in quarantine (last poll).",
            value=1.0 if state["state"] == "quarantine" else 0.0,
        )
        out: list[Metric] = [quarantined]
        last_ok = state["last_successful_at"]
        if last_ok is not None:
            out.append(
                GaugeMetricFamily(
                    "scim_sync_entra_last_successful_cycle_timestamp_seconds",
                    "End of Entra's last provisioning cycle without errors (Unix time).",
                    value=last_ok.timestamp(),
                )
            )
        failures = GaugeMetricFamily(
            "scim_sync_entra_provisioning_failures",
            "Failed entries in the kept part of Entra's provisioning log, by action and "
            "error code.",
            labels=["action", "error_code"],
        )
        for action, code, count in entra.failure_counts():
            failures.add_metric([action, code], count)
        out.append(failures)
        problems = GaugeMetricFamily(
            "scim_sync_entra_poll_failing",
            "1 while the last read of Entra's job or provisioning log failed, by part.",
            labels=["part"],
        )
        problems.add_metric(["job"], 1.0 if state["job_problem"] else 0.0)
        problems.add_metric(["logs"], 1.0 if state["logs_problem"] else 0.0)
        out.append(problems)
        return out

    def _silence(self, now: datetime) -> float:
        self._audit_seen_to, written = self.audit.last_entra_write_after(self._audit_seen_to)
        if written is not None and (self._last_write is None or written > self._last_write):
            self._last_write = written
        seen = [self.metrics.last_entra_request_at, self._last_write]
        known = [moment for moment in seen if moment is not None]
        latest = max(known) if known else self.metrics.started_at
        return max(0.0, (now - latest).total_seconds()) if latest else 0.0


def metrics_router(metrics: Metrics) -> Router:
    """``GET /metrics``: open like the probes; expose it only where Prometheus can reach it."""

    @get("/metrics", sync_to_thread=True)
    def scrape() -> Response[bytes]:
        return Response(content=metrics.render(), media_type=CONTENT_TYPE)

    return Router("/", route_handlers=[scrape])
