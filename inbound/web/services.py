"""What the web layer needs from the rest of the process, wired by ``scheduler``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from inbound.auth import TokenStore
from inbound.database.audit import AuditLog
from inbound.database.availability import DatabaseOutage
from inbound.database.entra_health import EntraHealthStore
from inbound.database.ledger import StagingLedger
from inbound.database.live_settings import LiveSettings
from inbound.database.overview import TargetOverview
from inbound.database.sessions import SessionStore
from inbound.database.store import ResourceStore
from inbound.schema import Catalog
from inbound.token_renewal import RenewalTracker
from inbound.web.metrics import Metrics


@dataclass(frozen=True)
class ConsoleStores:
    """What the admin page, the audit API and the database-backed gauges read and write."""

    audit: AuditLog
    sessions: SessionStore
    overview: TargetOverview
    entra: EntraHealthStore

    @classmethod
    def on(cls, engine: Engine, clock: Callable[[], datetime]) -> ConsoleStores:
        return cls(
            AuditLog(engine, clock=clock),
            SessionStore(engine, clock=clock),
            TargetOverview(engine),
            EntraHealthStore(engine, clock=clock),
        )


LogLine = Callable[[int, str, dict[str, Any]], None]
"""Writes one log event: level, event text, key/values."""


@dataclass
class InboundServices:
    store: ResourceStore
    ledger: StagingLedger
    tokens: TokenStore
    live_settings: LiveSettings
    clock: Callable[[], datetime]
    public_url: str
    """Base URL as Entra reaches this service; the SCIM endpoint is ``{public_url}/scim/v2``."""
    token_ttl: timedelta = timedelta(hours=10)
    renewal: RenewalTracker | None = None
    """Token delivery state (sink, last delivery, failures) for status pages and metrics."""
    target_names: list[str] = field(default_factory=list)
    default_reconcile_interval: float = 60.0
    identity_lookup: Callable[[str], dict[str, Any] | None] = lambda _user_id: None
    """The Identity Manager record of a user ID; provided by the composition root."""
    on_interval_change: Callable[[float], None] = lambda _seconds: None
    on_token_change: Callable[[], None] = lambda: None
    on_hold_approved: Callable[[], None] = lambda: None
    """Approval of held changes: run the reconciler soon. These three hooks are given once by
    the composition root (its process signals); nothing reassigns them afterwards."""
    entra_restart: Callable[[str], str] | None = None
    """Restart Entra's provisioning job with a scope (``quarantine`` or ``full``) through Graph
    and return the job's id; raises ``EntraRestartError`` with a readable reason. None while
    Graph is not configured. Built by the composition root: ``inbound`` cannot reach Graph."""
    ready: Callable[[], str | None] = lambda: None
    """None when ready; otherwise why not (database unreachable, migrations pending)."""
    metrics: Metrics = field(default_factory=Metrics)
    console: ConsoleStores | None = None
    """Without it (a bare composition) the admin page, the audit API and the database-backed
    gauges are left out; ``scheduler`` always provides it."""
    catalog: Catalog = field(default_factory=Catalog)
    """Resource types and schemas served, custom extensions from configuration included."""
    group_patch_body_max_members: int = 1000
    """A group PATCH returns the group (200) up to this many members, else 204."""
    request_log_line: LogLine | None = None
    """Writes a request's log line; None: through :mod:`logging`. The composition root gives
    a shorter path to the same line (``scheduler.logs.event_writer``)."""
    database: DatabaseOutage = field(default_factory=DatabaseOutage)
    """Whether the staging database is reachable, shared by the requests and the scheduler
    of one process, so that an outage is logged once."""

    @property
    def endpoint_url(self) -> str:
        return f"{self.public_url.rstrip('/')}/scim/v2"
