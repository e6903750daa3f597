"""The alert webhook: the alerts of ``deploy/prometheus/scim-sync-rules.yaml``, evaluated in the
worker for installations without Prometheus, each posted once per change of state.

Every minute the conditions are read from the same places the gauges are (the staging database
and the last reconcile run), each alert moves between ``inactive``, ``pending`` (true, waiting
out its duration) and ``firing``, and a change the receiver has not been told of yet is posted:
``firing`` when it starts, ``resolved`` when it ends. The states live in the database, so several
workers announce an alert once, and a delivery that failed is tried again at the next tick.
Differences from Prometheus: "dead letters rising" resolves when the count falls back to where
it stood (an operator retried or skipped them), not after an hour; "Entra silent" waits for
Entra's first write instead of counting from this process's start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from connectors.delivery.alert_webhook import AlertWebhook
from inbound.auth import SecretKind
from inbound.database.alert_states import AlertState, AlertStateStore
from inbound.database.locks import JobLock
from scheduler.composition import Runtime
from scheduler.singleton import add_singleton_job

log = logging.getLogger(__name__)

JOB_ID = "alert-webhook"
TICK = timedelta(minutes=1)
ENTRA_CYCLE = timedelta(minutes=40)


@dataclass(frozen=True)
class Rule:
    summary: str
    runbook: str
    duration: timedelta = timedelta(0)
    rising: bool = False
    """True: fires when the value exceeds the one it had while inactive (a baseline)."""


RULES: dict[str, Rule] = {
    "ScimSyncTokenAboutToLapse": Rule(
        "The SCIM token Entra uses expires within 30 minutes",
        "docs/operations.md#token-delivery-is-failing",
        timedelta(minutes=5),
    ),
    "ScimSyncTokenDeliveryFailing": Rule(
        "Token delivery to the sink failed 3 times in a row or more",
        "docs/operations.md#token-delivery-is-failing",
    ),
    "ScimSyncEntraJobQuarantined": Rule(
        "Entra has put the provisioning job in quarantine",
        "docs/operations.md#entra-quarantined-the-job",
        timedelta(minutes=5),
    ),
    "ScimSyncEntraSilent": Rule(
        "Entra has not called for 3 provisioning cycles", "docs/operations.md#entra-is-silent"
    ),
    "ScimSyncEntraPollFailing": Rule(
        "scim-sync cannot read Entra's {part} through Graph",
        "docs/operations.md#entra-quarantined-the-job",
        timedelta(minutes=30),
    ),
    "ScimSyncDeadLettersRising": Rule(
        "{target} refused changes for good", "docs/operations.md#dead-letters", rising=True
    ),
    "ScimSyncPendingAgeGrowing": Rule(
        "{target} has had a change waiting for more than 15 minutes",
        "docs/operations.md#alerts",
        timedelta(minutes=15),
    ),
    "ScimSyncMassChangeHeld": Rule(
        "Deletes or disables on {target} wait for approval",
        "docs/operations.md#a-held-mass-change",
    ),
    "ScimSyncTargetUnavailable": Rule(
        "{target} has been unreachable for at least 10 minutes",
        "docs/operations.md#ldap-is-down",
        timedelta(minutes=10),
    ),
}


@dataclass(frozen=True)
class Reading:
    """One alert's condition now: ``value`` is what it measured (a count, seconds…)."""

    alert: str
    labels: dict[str, str]
    active: bool
    value: float

    @property
    def key(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.alert}{{{inner}}}"


def read_conditions(
    runtime: Runtime, now: datetime, last_entra_write: datetime | None, unavailable: set[str]
) -> list[Reading]:
    """Every alert's condition from the database and the last run."""
    out: list[Reading] = []
    expiry = runtime.tokens.newest_expiry(SecretKind.SCIM)
    left = (expiry - now).total_seconds() if expiry else 0.0
    out.append(Reading("ScimSyncTokenAboutToLapse", {}, left < 1800, max(0.0, left)))
    failures = runtime.renewal.state().attempts
    out.append(Reading("ScimSyncTokenDeliveryFailing", {}, failures >= 3, float(failures)))
    console = runtime.services.console
    entra = console.entra.state() if console is not None else None
    if entra is not None:
        quarantined = entra["state"] == "quarantine"
        out.append(Reading("ScimSyncEntraJobQuarantined", {}, quarantined, float(quarantined)))
        for part in ("job", "logs"):
            failing = bool(entra[f"{part}_problem"])
            out.append(Reading("ScimSyncEntraPollFailing", {"part": part}, failing, float(failing)))
    if last_entra_write is not None:
        silent = (now - last_entra_write).total_seconds()
        out.append(
            Reading(
                "ScimSyncEntraSilent",
                {},
                silent > 3 * ENTRA_CYCLE.total_seconds(),
                silent,
            )
        )
    for target in runtime.services.target_names:
        summary = runtime.ledger.summary(target, now)
        labels = {"target": target}
        oldest = float(summary["oldest_pending_seconds"] or 0.0)
        out += [
            Reading("ScimSyncDeadLettersRising", labels, False, float(summary["dead"])),
            Reading("ScimSyncPendingAgeGrowing", labels, oldest > 900, oldest),
            Reading("ScimSyncMassChangeHeld", labels, summary["held"] > 0, float(summary["held"])),
            Reading("ScimSyncTargetUnavailable", labels, target in unavailable, 0.0),
        ]
    return out


def step(previous: AlertState | None, reading: Reading, now: datetime) -> AlertState:
    """The alert's next state: pending while its duration runs, then firing; inactive when
    the condition stops. A rising alert compares with the value it had while inactive."""
    rule = RULES[reading.alert]
    state = previous or AlertState(
        reading.key, reading.alert, reading.labels, "inactive", now, reading.value, None, 0, None
    )
    active = reading.active
    if rule.rising:
        baseline = state.value if state.value is not None else reading.value
        active = reading.value > baseline
        if not active:  # follow the count while quiet, so only a new rise fires
            state = replace(state, value=reading.value)
    if not active:
        return state if state.state == "inactive" else replace(state, state="inactive", since=now)
    if state.state == "inactive":
        state = replace(state, state="pending", since=now)
    if state.state == "pending" and now - state.since >= rule.duration:
        state = replace(state, state="firing", since=now)
    return state


def message(state: AlertState, status: str) -> dict[str, Any]:
    rule = RULES[state.alert]
    return {
        "alert": state.alert,
        "status": status,
        "labels": state.labels,
        "summary": rule.summary.format(**state.labels),
        "runbook": rule.runbook,
        "since": state.since.isoformat(),
        "value": state.value,
    }


class AlertWatch:
    def __init__(
        self,
        runtime: Runtime,
        webhook: AlertWebhook,
        *,
        unavailable: Callable[[], set[str]] = set,
    ) -> None:
        assert runtime.services.console is not None
        self._runtime = runtime
        self._webhook = webhook
        self._store = AlertStateStore(runtime.database_engine, clock=runtime.services.clock)
        self._audit = runtime.services.console.audit
        self._unavailable = unavailable
        self._audit_seen_to = 0
        self._last_write: datetime | None = None

    def tick(self) -> list[dict[str, Any]]:
        """Evaluate every alert and post each change not announced yet; returns the posts."""
        now = self._runtime.services.clock()
        self._audit_seen_to, written = self._audit.last_entra_write_after(self._audit_seen_to)
        if written is not None and (self._last_write is None or written > self._last_write):
            self._last_write = written
        known = self._store.all()
        readings = read_conditions(self._runtime, now, self._last_write, self._unavailable())
        seen = {r.key for r in readings}
        states = [step(known.get(r.key), r, now) for r in readings]
        states += [  # alerts whose condition can no longer be read (Entra no longer watched)
            replace(s, state="inactive", since=now) if s.state != "inactive" else s
            for key, s in known.items()
            if key not in seen
        ]
        posted = []
        for state in states:
            state, sent = self._announce(state)
            if sent is not None:
                posted.append(sent)
            if state != known.get(state.key):
                self._store.save(state)
        return posted

    def _announce(self, state: AlertState) -> tuple[AlertState, dict[str, Any] | None]:
        if state.state == "firing" and state.notified != "firing":
            status = "firing"
        elif state.state != "firing" and state.notified == "firing":
            status = "resolved"
        else:
            return state, None
        body = message(state, status)
        try:
            self._webhook.post(body)
        except Exception as exc:  # recorded; the next tick tries again
            log.warning(
                "alert webhook failed",
                extra={"alert": state.key, "status": status, "error": str(exc)},
            )
            return replace(state, attempts=state.attempts + 1, last_error=str(exc)[:2000]), None
        log.info("alert announced", extra={"alert": state.key, "status": status})
        return replace(state, notified=status, attempts=0, last_error=None), body


def register(
    scheduler: BaseScheduler, watch: AlertWatch, lock: JobLock, first_run: datetime
) -> None:
    """Evaluate every minute (and once at start), one process at a time."""
    add_singleton_job(scheduler, JOB_ID, watch.tick, lock, interval=TICK, first_run=first_run)
