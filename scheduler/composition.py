"""The composition root: the one place that turns settings into connected objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from connectors.identity_store.target import IdentityReader, IdentityStoreTarget
from inbound.auth import TokenStore
from inbound.extensions import ExtensionSchemaError, load_catalog
from inbound.staging.ledger import StagingLedger
from inbound.staging.runtime import RuntimeSettings
from inbound.staging.store import ResourceStore
from inbound.web.services import InboundServices
from reconcile.ports import Target
from reconcile.runner import Reconciler
from scheduler import db
from scheduler.settings import Settings, SettingsError


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Nudge:
    """Late-bound hook: the store is built before the scheduler that reacts to its writes."""

    callback: Callable[[], None] = lambda: None

    def __call__(self) -> None:
        self.callback()


@dataclass
class Runtime:
    settings: Settings
    staging_engine: Engine
    idm_engine: Engine
    store: ResourceStore
    ledger: StagingLedger
    tokens: TokenStore
    runtime: RuntimeSettings
    targets: list[Target]
    reconciler: Reconciler
    identities: IdentityReader
    services: InboundServices
    nudge: Nudge = field(default_factory=Nudge)

    def identity_record(self, user_id: str) -> dict[str, Any] | None:
        """An Identity Manager record with its per-target sync state."""
        record = self.identities.get(user_id)
        if record is None:
            return None
        record["sync"] = (
            {
                s.target: {
                    "status": s.status,
                    "observed_generation": s.observed_generation,
                    "attempts": s.attempts,
                    "last_error": s.last_error,
                }
                for s in self.ledger.states_of(record["scim_id"], [t.name for t in self.targets])
            }
            if record.get("scim_id")
            else {}
        )
        return record

    def dispose(self) -> None:
        self.staging_engine.dispose()
        if self.idm_engine is not self.staging_engine:
            self.idm_engine.dispose()


def compose(
    settings: Settings,
    *,
    public_url: str = "http://127.0.0.1:8000",
    clock: Callable[[], datetime] = utcnow,
    migrate: bool = True,
) -> Runtime:
    try:
        catalog = load_catalog(settings.scim_extension_schemas)
    except ExtensionSchemaError as exc:
        raise SettingsError(f"SCIM_SYNC_SCIM_EXTENSION_SCHEMAS: {exc}") from exc
    staging_engine = db.make_engine(settings.database_url)
    idm_engine = (
        db.make_engine(settings.idm_url)
        if settings.idm_url != settings.database_url
        else staging_engine
    )
    if migrate:
        db.upgrade_all(staging_engine, idm_engine)
    nudge = Nudge()
    store = ResourceStore(staging_engine, clock=clock, on_change=nudge)
    ledger = StagingLedger(staging_engine)
    tokens = TokenStore(staging_engine, clock=clock)
    runtime_settings = RuntimeSettings(staging_engine, clock=clock)
    targets: list[Target] = [IdentityStoreTarget(idm_engine, clock=clock)]
    reconciler = Reconciler(ledger, ledger, targets, clock=clock)
    identities = IdentityReader(idm_engine)

    def ready() -> str | None:
        try:
            with staging_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if db.pending("staging", staging_engine) or db.pending("identity_store", idm_engine):
                return "database migrations are pending; run 'scim-sync db upgrade'"
        except Exception as exc:  # readiness reports any failure as "not ready"
            return f"database unreachable: {type(exc).__name__}"
        return None

    services = InboundServices(
        store=store,
        ledger=ledger,
        tokens=tokens,
        runtime=runtime_settings,
        clock=clock,
        public_url=settings.public_url or public_url,
        token_ttl=settings.token_ttl,
        target_names=[t.name for t in targets],
        default_reconcile_interval=settings.reconcile_interval.total_seconds(),
        ready=ready,
        catalog=catalog,
    )
    rt = Runtime(
        settings=settings,
        staging_engine=staging_engine,
        idm_engine=idm_engine,
        store=store,
        ledger=ledger,
        tokens=tokens,
        runtime=runtime_settings,
        targets=targets,
        reconciler=reconciler,
        identities=identities,
        services=services,
        nudge=nudge,
    )
    services.identity_lookup = rt.identity_record
    return rt
