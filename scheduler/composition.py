"""The composition root: the one place that turns settings into connected objects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from connectors.delivery.sink import TokenSink, build_sink, describe_sink
from connectors.entra.health import EntraReader, not_permitted
from connectors.entra.settings import GraphSettings
from connectors.identity_store.reader import IdentityReader
from connectors.identity_store.target import IdentityStoreTarget
from connectors.ldap.target import LdapTarget
from inbound.auth import TokenStore
from inbound.database.anchors import StagedAnchors
from inbound.database.availability import DatabaseOutage
from inbound.database.desired import StagedDesiredState
from inbound.database.ledger import StagingLedger
from inbound.database.live_settings import LiveSettings
from inbound.database.locks import JobLock
from inbound.database.store import ResourceStore
from inbound.database.tables import reading
from inbound.extensions import ExtensionSchemaError, load_catalog
from inbound.token_renewal import RenewalTracker
from inbound.web.admin_actions import EntraRestartError
from inbound.web.services import ConsoleStores, InboundServices
from reconcile.full import FullReconciler
from reconcile.policy import MassChangeBrake
from reconcile.ports import Target
from reconcile.runner import Reconciler
from scheduler import db, logs
from scheduler.entra import EntraWatch
from scheduler.settings import Settings, SettingsError
from scheduler.signals import ProcessSignals
from scheduler.wakeups import ChangeAnnouncer


def utcnow() -> datetime:
    return datetime.now(UTC)


class IdentityRecords:
    """An Identity Manager record with its per-target sync state and Entra's log about it:
    what ``scim-sync record`` and the admin page show for one user."""

    def __init__(
        self,
        identities: IdentityReader,
        ledger: StagingLedger,
        target_names: list[str],
        console: ConsoleStores,
    ) -> None:
        self._identities = identities
        self._ledger = ledger
        self._target_names = target_names
        self._console = console

    def get(self, user_id: str) -> dict[str, Any] | None:
        record = self._identities.get(user_id)
        if record is None:
            return None
        scim_id = record.get("scim_id")
        record["sync"] = (
            {
                s.target: {
                    "status": s.status,
                    "observed_generation": s.observed_generation,
                    "attempts": s.attempts,
                    "last_error": s.last_error,
                }
                for s in self._ledger.states_of(scim_id, self._target_names)
            }
            if scim_id
            else {}
        )
        record["entra"] = self._console.entra.timeline(scim_id) if scim_id else []
        return record


@dataclass
class Runtime:
    """The composed process: every connected object one ``serve``, ``web``, ``worker`` or CLI
    command uses, built once by :func:`compose` and disposed of with it."""

    settings: Settings
    database_engine: Engine
    idm_engine: Engine
    store: ResourceStore
    ledger: StagingLedger
    anchors: StagedAnchors
    desired: StagedDesiredState
    tokens: TokenStore
    live_settings: LiveSettings
    targets: list[Target[Any]]
    reconciler: Reconciler
    full: FullReconciler
    identities: IdentityReader
    services: InboundServices
    renewal: RenewalTracker
    token_sink: TokenSink | None
    job_lock: JobLock
    """Keeps the jobs that run once at a time (full reconcile, token renewal, Entra watch,
    alerts) to one process."""
    signals: ProcessSignals
    announcer: ChangeAnnouncer | None = None
    entra_watch: EntraWatch | None = None
    """Reads Entra's job and provisioning log; None unless Graph is configured."""

    def identity_record(self, user_id: str) -> dict[str, Any] | None:
        """An Identity Manager record with its per-target sync state."""
        return self.services.identity_lookup(user_id)

    def prepare_worker(self) -> None:
        """Before reconciling: every resource has a ledger row for every configured target,
        and work claimed by workers that died is free again."""
        self.ledger.announce_alive()
        self.ledger.ensure_rows([t.name for t in self.targets], self.services.clock())
        self.ledger.release_dead_claims()

    def dispose(self) -> None:
        if self.announcer is not None:
            self.announcer.stop()
        self.ledger.close()
        self.store.close()
        for target in self.targets:
            if isinstance(target, LdapTarget):
                target.close()
        self.database_engine.dispose()
        if self.idm_engine is not self.database_engine:
            self.idm_engine.dispose()


def _pool_dropper(engine: Engine) -> Callable[[], None]:
    """When PostgreSQL goes away, every pooled connection is dead: drop them all at once,
    instead of each failing one more request after the server is back. (A SQLite file has
    no server to lose, and disposing its engine would stop the checkpoint thread.)"""
    if engine.dialect.name != "postgresql":
        return lambda: None
    return lambda: engine.dispose()


def entra_restarter(graph: GraphSettings) -> Callable[[str], str] | None:
    """The restart every door (page, admin API, command line) calls, its failures turned into
    the one exception the web layer knows, worded as ``status`` words them."""
    if graph.missing():
        return None
    reader = EntraReader(graph)

    def restart(scope: str) -> str:
        try:
            return reader.restart(scope)
        except Exception as exc:  # Graph or the network: reported to the caller as it is
            reason = not_permitted(exc, "restart") or f"{type(exc).__name__}: {exc}"
            raise EntraRestartError(reason) from exc

    return restart


def brake_of(settings: Settings) -> MassChangeBrake:
    return MassChangeBrake(
        max_count=settings.mass_change_max_count,
        max_share=settings.mass_change_max_share,
        window=settings.mass_change_window,
    )


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
    database_engine = db.make_engine(settings.database_url, pool_size=settings.database_pool_size)
    idm_engine = (
        db.make_engine(settings.idm_url, pool_size=settings.database_pool_size)
        if settings.idm_url != settings.database_url
        else database_engine
    )
    if migrate:
        db.upgrade_all(database_engine, idm_engine)
    signals = ProcessSignals()
    anchors = StagedAnchors(database_engine)
    targets: list[Target[Any]] = [
        IdentityStoreTarget(
            idm_engine,
            clock=clock,
            anchors=anchors,
            adopt=settings.idm_adopt,
            mapping=settings.mapping.target("identity_store"),
        )
    ]
    if settings.ldap.url:
        targets.append(LdapTarget(settings.ldap, anchors=anchors))
    target_names = [t.name for t in targets]
    announcer = (
        ChangeAnnouncer(database_engine) if database_engine.dialect.name == "postgresql" else None
    )

    def on_change() -> None:
        """After a SCIM write commits: wake this process's scheduler and, on PostgreSQL,
        the workers of other processes."""
        signals.work_waiting()
        if announcer is not None:
            announcer.announce()

    store = ResourceStore(database_engine, clock=clock, on_change=on_change, targets=target_names)
    ledger = StagingLedger(database_engine)
    tokens = TokenStore(database_engine, clock=clock)
    live_settings = LiveSettings(database_engine, clock=clock)
    desired = StagedDesiredState(database_engine)
    brake = brake_of(settings)
    reconciler = Reconciler(desired, ledger, targets, clock=clock, brake=brake)
    full = FullReconciler(desired, ledger, targets, anchors=anchors, clock=clock, brake=brake)
    identities = IdentityReader(idm_engine)
    renewal = RenewalTracker(
        database_engine,
        clock=clock,
        sink=describe_sink(settings.token_sink, settings.graph),
        renew_before=settings.token_renew_before,
    )
    token_sink = build_sink(
        settings.token_sink, settings.graph, settings.token_webhook_secret, clock=clock
    )

    def ready() -> str | None:
        try:
            with reading(database_engine) as conn:  # no write lock: a backup may hold it
                conn.execute(text("SELECT 1"))
            if db.pending("staging", database_engine) or db.pending("identity_store", idm_engine):
                return "database migrations are pending; run 'scim-sync db upgrade'"
        except Exception as exc:  # readiness reports any failure as "not ready"
            return f"database unreachable: {type(exc).__name__}"
        return None

    console = ConsoleStores.on(database_engine, clock)
    services = InboundServices(
        store=store,
        ledger=ledger,
        tokens=tokens,
        live_settings=live_settings,
        clock=clock,
        public_url=settings.public_url or public_url,
        token_ttl=settings.token_ttl,
        renewal=renewal,
        target_names=target_names,
        default_reconcile_interval=settings.reconcile_interval.total_seconds(),
        ready=ready,
        identity_lookup=IdentityRecords(identities, ledger, target_names, console).get,
        on_interval_change=signals.interval_changed,
        on_token_change=signals.tokens_changed,
        on_hold_approved=signals.work_waiting,
        console=console,
        catalog=catalog,
        group_patch_body_max_members=settings.group_patch_body_max_members,
        database=DatabaseOutage(on_down=_pool_dropper(database_engine)),
        request_log_line=logs.event_writer("inbound.web.request_log"),
        entra_restart=entra_restarter(settings.graph),
    )
    entra_watch = (
        EntraWatch(
            EntraReader(settings.graph),
            console.entra,
            clock=clock,
            retention=settings.entra_log_retention,
        )
        if settings.entra_watched
        else None
    )
    return Runtime(
        settings=settings,
        database_engine=database_engine,
        idm_engine=idm_engine,
        store=store,
        ledger=ledger,
        anchors=anchors,
        desired=desired,
        tokens=tokens,
        live_settings=live_settings,
        targets=targets,
        reconciler=reconciler,
        full=full,
        identities=identities,
        services=services,
        renewal=renewal,
        token_sink=token_sink,
        job_lock=JobLock(database_engine, ledger.worker_id, clock=clock),
        signals=signals,
        announcer=announcer,
        entra_watch=entra_watch,
    )
