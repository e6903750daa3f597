"""Graph's provisioning job and provisioning log entries, read into the rows scim-sync keeps.

Shapes from Microsoft's Graph documentation: ``synchronizationJob.status``
(``synchronizationStatus``: ``code`` NotConfigured/NotRun/Active/Paused/Quarantine,
``quarantine`` with ``reason``, ``seriesBegan``, ``currentBegan``, ``nextAttempt``;
``lastExecution``, ``lastSuccessfulExecution``, ``lastSuccessfulExecutionWithExports`` as
``synchronizationTaskExecution`` with ``timeBegan``/``timeEnded``/``state``;
``countSuccessiveCompleteFailures``; ``steadyStateFirstAchievedTime``/``LastAchievedTime``) and
``provisioningObjectSummary`` (``activityDateTime``, ``cycleId``, ``changeId``,
``provisioningAction``, ``provisioningStatusInfo.status``/``errorInformation``,
``sourceIdentity``, ``targetIdentity``). Graph adds fields over time: anything missing or of an
unexpected type reads as absent instead of failing the whole poll.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def parse_time(value: Any) -> datetime | None:
    """Graph's ISO 8601 timestamps (``Z`` or an offset, up to 7 fractional digits)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Python takes at most 6 fractional digits; Graph may send 7
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.year <= 1:  # Graph's "never" (0001-01-01T00:00:00Z)
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class JobHealth:
    """One reading of the job; ``state`` is Graph's ``status.code`` in lower case."""

    job_id: str
    state: str
    quarantine_reason: str | None = None
    quarantine_since: datetime | None = None
    quarantine_current_began: datetime | None = None
    quarantine_next_attempt: datetime | None = None
    last_execution_at: datetime | None = None
    last_execution_state: str | None = None
    last_successful_at: datetime | None = None
    last_successful_with_exports_at: datetime | None = None
    successive_failures: int = 0
    steady_state_first_at: datetime | None = None
    steady_state_last_at: datetime | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def _ended(execution: Any) -> datetime | None:
    run = _object(execution)
    return parse_time(run.get("timeEnded")) or parse_time(run.get("timeBegan"))


def parse_job(body: dict[str, Any], job_id: str) -> JobHealth:
    status = _object(body.get("status"))
    quarantine = _object(status.get("quarantine"))
    last = _object(status.get("lastExecution"))
    failures = status.get("countSuccessiveCompleteFailures")
    return JobHealth(
        job_id=_text(body.get("id"), 128) or job_id,
        state=(_text(status.get("code"), 32) or "unknown").lower(),
        quarantine_reason=_text(quarantine.get("reason"), 64),
        quarantine_since=parse_time(quarantine.get("seriesBegan")),
        quarantine_current_began=parse_time(quarantine.get("currentBegan")),
        quarantine_next_attempt=parse_time(quarantine.get("nextAttempt")),
        last_execution_at=_ended(last),
        last_execution_state=_text(last.get("state"), 32),
        last_successful_at=_ended(status.get("lastSuccessfulExecution")),
        last_successful_with_exports_at=_ended(status.get("lastSuccessfulExecutionWithExports")),
        successive_failures=failures if isinstance(failures, int) and failures >= 0 else 0,
        steady_state_first_at=parse_time(status.get("steadyStateFirstAchievedTime")),
        steady_state_last_at=parse_time(status.get("steadyStateLastAchievedTime")),
    )


@dataclass(frozen=True, slots=True)
class ProvisioningEntry:
    """One action of Entra's provisioning service on one object, as scim-sync keeps it."""

    id: str
    at: datetime
    cycle_id: str | None
    change_id: str | None
    action: str
    status: str
    error_code: str | None
    error_reason: str | None
    source_id: str | None
    source_name: str | None
    target_id: str | None
    target_name: str | None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def parse_entry(item: Any) -> ProvisioningEntry | None:
    """None for an entry without an id or a time: nothing could be joined or ordered by it."""
    entry = _object(item)
    entry_id = _text(entry.get("id"), 128)
    at = parse_time(entry.get("activityDateTime"))
    if entry_id is None or at is None:
        return None
    info = _object(entry.get("provisioningStatusInfo"))
    error = _object(info.get("errorInformation"))
    source = _object(entry.get("sourceIdentity"))
    target = _object(entry.get("targetIdentity"))
    return ProvisioningEntry(
        id=entry_id,
        at=at,
        cycle_id=_text(entry.get("cycleId"), 128),
        change_id=_text(entry.get("changeId"), 128),
        action=(_text(entry.get("provisioningAction"), 32) or "other"),
        status=(_text(info.get("status"), 32) or "unknown").lower(),
        error_code=_text(error.get("errorCode"), 128),
        error_reason=_text(error.get("reason"), 2000),
        source_id=_text(source.get("id"), 128),
        source_name=_text(source.get("displayName"), 256),
        target_id=_text(target.get("id"), 128),
        target_name=_text(target.get("displayName"), 256),
    )
