"""Token renewal: mint a SCIM token before the newest one expires and deliver it to the sink.

The due time is not remembered anywhere: it is re-derived from the database (newest token's
expiry less ``SCIM_SYNC_TOKEN_RENEW_BEFORE``, or a failed delivery's backoff) at start, after
every run, after every token change made through this process, and at least once a minute for
changes made by other processes. So a process that was down at the due time renews as soon as
it starts, and a token revoked by hand is replaced without waiting for a tick.

A renewal never causes an outage: the new token is committed before it is delivered, and the
previous one stays valid until its own expiry. A failed delivery leaves renewal due (the minted
token does not count as the newest, see ``inbound.auth``), is logged without the secret,
recorded for ``status``, and retried with a growing delay, honouring the sink's ``Retry-After``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from connectors.delivery.sink import TokenDelivery, TokenSink
from inbound.auth import Delivery, SecretKind, TokenStore
from inbound.database.locks import JobLock
from inbound.operator import issue_scim_token
from inbound.token_renewal import RenewalTracker
from inbound.web.services import InboundServices
from reconcile.policy import RetryPolicy
from scheduler.composition import Runtime

log = logging.getLogger(__name__)

JOB_ID = "token-renewal"
RECHECK = timedelta(seconds=60)
"""Longest wait before the due time is re-derived (covers tokens changed by other processes)."""
LEASE = timedelta(minutes=5)
"""On SQLite, how long a renewing process that died keeps the others from renewing; a
renewal (mint, deliver, record) takes seconds."""
BUSY_RECHECK = timedelta(seconds=5)
DELIVERY_RETRY = RetryPolicy(initial_seconds=30, max_seconds=900, jitter_seconds=5)
"""After a failed delivery: about 30 s, doubling to 15 min; longer if the sink asked for it."""


@dataclass(frozen=True)
class RenewalOutcome:
    action: str
    """``renewed``, ``failed``, ``not due``, ``busy`` (another process renews) or ``no sink``."""
    token_id: str | None = None
    expires_at: datetime | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "id": self.token_id,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "error": self.error,
        }


class Renewal:
    def __init__(
        self,
        *,
        tokens: TokenStore,
        tracker: RenewalTracker,
        lock: JobLock,
        sink: TokenSink | None,
        services: InboundServices,
        recheck: timedelta = RECHECK,
        retry: RetryPolicy = DELIVERY_RETRY,
    ) -> None:
        self._tokens = tokens
        self._tracker = tracker
        self._lock = lock
        self._sink = sink
        self._services = services
        self._clock = services.clock
        self._recheck = recheck
        self._retry = retry

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> Renewal:
        return cls(
            tokens=runtime.tokens,
            tracker=runtime.renewal,
            lock=runtime.job_lock,
            sink=runtime.token_sink,
            services=runtime.services,
        )

    def due_at(self) -> datetime | None:
        return self._tracker.next_renewal_at(self._tokens.newest_expiry(SecretKind.SCIM))

    def next_run_at(self) -> datetime:
        now = self._clock()
        due = self.due_at()
        if due is None:
            return now + self._recheck
        return max(now, min(due, now + self._recheck))

    def run_once(self, *, force: bool = False) -> RenewalOutcome:
        """Renew if due (or ``force``), unless another process is renewing right now."""
        if self._sink is None:
            return RenewalOutcome("no sink")
        due = self.due_at()
        if not force and (due is None or self._clock() < due):
            return RenewalOutcome("not due")
        with self._lock.hold(JOB_ID, LEASE) as acquired:
            if not acquired:
                return RenewalOutcome("busy")
            due = self.due_at()  # whoever held the lock before us may have renewed already
            if not force and (due is None or self._clock() < due):
                return RenewalOutcome("not due")
            return self._renew(self._sink)

    def _renew(self, sink: TokenSink) -> RenewalOutcome:
        issued = self._tokens.issue(
            SecretKind.SCIM, self._services.token_ttl, "renewal", delivery=Delivery.PENDING
        )
        assert issued.expires_at is not None  # SCIM tokens always expire
        delivery = TokenDelivery(
            issued.secret, issued.id, issued.expires_at, self._services.endpoint_url
        )
        try:
            sink.deliver(delivery)
        except Exception as exc:  # any failure must stay visible and be retried, never kill
            return self._failed(issued.id, issued.secret, exc)
        self._tokens.set_delivery(issued.id, Delivery.DELIVERED)
        self._tracker.record_delivered(issued.id)
        log.info(
            "scim token delivered",
            extra={
                "token_id": issued.id,
                "sink": self._tracker.sink,
                "expires_at": issued.expires_at.isoformat(),
            },
        )
        return RenewalOutcome("renewed", issued.id, issued.expires_at)

    def _failed(self, token_id: str, secret: str, exc: Exception) -> RenewalOutcome:
        self._tokens.set_delivery(token_id, Delivery.FAILED)
        error = f"{type(exc).__name__}: {exc}".replace(secret, "***")
        attempts = self._tracker.state().attempts + 1
        next_attempt_at = self._retry.next_attempt(
            attempts, self._clock(), getattr(exc, "retry_after", None)
        )
        self._tracker.record_failed(error, next_attempt_at, attempts)
        expiry = self._tokens.newest_expiry(SecretKind.SCIM)
        log.warning(
            "scim token delivery failed",
            extra={
                "token_id": token_id,
                "sink": self._tracker.sink,
                "attempts": attempts,
                "error": error,
                "next_attempt_at": next_attempt_at.isoformat(),
                "current_expires_at": expiry.isoformat() if expiry else None,
            },
        )
        return RenewalOutcome("failed", token_id, error=error)


def register(scheduler: BaseScheduler, runtime: Runtime) -> Renewal:
    """Schedule the renewal job and re-derive its due time whenever a token changes."""
    renewal = Renewal.from_runtime(runtime)
    clock = runtime.services.clock

    database = runtime.services.database

    def failed(event: str, exc: Exception) -> None:
        """An unreachable database is said once for the process, a busy one in a warning line;
        anything else is a bug."""
        if database.report(exc, event) is None:
            log.error(event, exc_info=exc)

    def next_run() -> datetime:
        try:
            return renewal.next_run_at()
        except Exception as exc:  # database unreachable: look again soon
            failed("token renewal could not read its due time", exc)
            return clock() + BUSY_RECHECK

    def reschedule(when: datetime | None = None) -> None:
        try:
            scheduler.modify_job(JOB_ID, next_run_time=when or next_run())
        except JobLookupError:  # the scheduler is shutting down
            return

    def tick() -> None:
        busy = False
        try:
            busy = renewal.run_once().action == "busy"
        except Exception as exc:  # a database error; retried at the next run
            failed("token renewal run failed", exc)
        reschedule(clock() + BUSY_RECHECK if busy else None)

    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=RECHECK.total_seconds()),
        id=JOB_ID,
        replace_existing=True,
        next_run_time=next_run(),
    )
    runtime.signals.tokens_changed.connect(reschedule)
    return renewal


def first_start_secrets(runtime: Runtime) -> list[str]:
    """Make sure an admin key and a SCIM token exist; the lines ``serve`` prints once.

    A configured admin key replaces any other. Without a live SCIM token, one is issued and
    printed, unless a sink is configured: then the renewal job mints it at once and delivers
    it, because a printed token would postpone the first delivery by a whole lifetime.
    """
    lines: list[str] = []
    tokens = runtime.tokens
    configured = runtime.settings.admin_key
    if configured:
        if tokens.ensure_admin_key(configured):
            log.info("configured admin key stored; other admin keys revoked")
    elif not tokens.has_live(SecretKind.ADMIN):
        issued = tokens.issue(SecretKind.ADMIN, None, "generated on first start")
        lines.append(f"  Admin key (for /admin and /api/v1; shown only now): {issued.secret}")
    if runtime.token_sink is not None:
        lines.insert(0, f"  SCIM tokens are renewed and delivered to {runtime.renewal.sink}")
    elif not tokens.has_live(SecretKind.SCIM):
        token = issue_scim_token(runtime.services, "generated on first start")
        lines.insert(0, f"  SCIM token (Entra 'Secret Token'), valid until {token['expires_at']}:")
        lines.insert(1, f"      {token['token']}")
    return lines


def describe_status(report: dict[str, Any] | None) -> str:
    """The token renewal line of ``scim-sync status``."""
    if not report or report["sink"] == "none":
        return "token renewal: off (SCIM_SYNC_TOKEN_SINK=none)"
    line = f"token renewal to {report['sink']}: next at {report['next_renewal_at']}"
    if report["failed_attempts"]:
        return (
            f"{line}; FAILING ({report['failed_attempts']} attempts, last "
            f"{report['last_attempt_at']}): {report['last_error']}"
        )
    return f"{line}; last delivered {report['delivered_at'] or 'never'}"
