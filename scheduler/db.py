"""Database engines, tuned per dialect, and the migrations of every package that owns tables."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.types.json import set_json_dumps, set_json_loads
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

import connectors.identity_store.migrations as idm_migrations
import inbound.database.migrations as staging_migrations
from inbound.database.tables import READ_ONLY
from scheduler.checkpoints import BACKSTOP_PAGES, JOURNAL_SIZE_LIMIT, WalCheckpointer

MIGRATIONS = {
    "staging": (Path(staging_migrations.__file__).parent, "alembic_version_staging"),
    "identity_store": (Path(idm_migrations.__file__).parent, "alembic_version_idm"),
}
_READ_ONLY_KEY = next(iter(READ_ONLY))
_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; SQLite URLs pass through."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, *, pool_size: int = 20, **kwargs: Any) -> Engine:
    """``pool_size`` connections stay open on PostgreSQL, plus 5 in a burst: a pool smaller
    than the receiver's write threads closed and reopened connections under load."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    parsed = make_url(url)
    connect_args = {} if "application_name" in parsed.query else {"application_name": "scim-sync"}
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=5, connect_args=connect_args, **kwargs
    )
    _ping_when_idle(engine)

    @event.listens_for(engine, "connect")
    def _fast_json(dbapi_connection: Any, _record: Any) -> None:
        """JSONB in and out through msgspec instead of the standard library's json (every
        SCIM write stores a resource; the encoding showed in profiles)."""
        set_json_dumps(_json_encode, dbapi_connection)
        set_json_loads(_json_decode, dbapi_connection)

    return engine


IDLE_BEFORE_PING = 5.0
"""Seconds a pooled PostgreSQL connection may sit unused before a checkout checks it."""


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, as much as a
    SCIM read's own query. A connection in steady use has just proven itself, so only one that
    sat idle (where a server restart or a dropped link would have left it dead) is pinged;
    one psycopg already knows to be broken is replaced without asking. A connection that
    dies while in use fails that one request and is discarded, not returned to the pool."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.broken or dbapi_connection.closed:
            raise DisconnectionError("connection broken")
        idle = time.monotonic() - record.info.get("checked_in_at", time.monotonic())
        if idle > IDLE_BEFORE_PING:
            try:
                dbapi_connection.execute("SELECT 1")
                if not dbapi_connection.autocommit:
                    dbapi_connection.rollback()
            except Exception as exc:  # any failure: let the pool open a fresh one
                raise DisconnectionError(str(exc)) from exc


PAGE_CACHE_KIB = 16 * 1024


def _tune_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers; writes take the lock at BEGIN so two writers never deadlock
    on a lock upgrade; LIKE made case-sensitive so filters match PostgreSQL's; checkpoints in
    a thread of their own (:mod:`scheduler.checkpoints`) for a database file.

    Temporary storage in memory: a group commit run again after a refused write runs each write
    in a savepoint, and SQLite journals every page a savepoint touches first into a sub-journal,
    a temporary file once it passes 64 KiB. A create touches some twenty pages, so on disk that
    cost forty write calls and 80 KiB per create, more than the WAL itself (five times the
    writes per POST, measured through ``/proc/PID/io``). In memory a sub-journal lives until its
    transaction ends: a group's few megabytes. Sorts that spill (a ``sortBy`` over every
    resource) also stay in memory, a few tens of bytes per sorted row.

    A page cache of 16 MiB per connection rather than SQLite's 2 MiB: a PATCH of a random user
    read half as many pages from the file (4.9-6.2 reads per PATCH instead of 9.6-12.6, about
    4 % more PATCHes a second). SQLite fills it only with pages a connection reads."""
    database = engine.url.database
    checkpointer = WalCheckpointer(database) if database and database != ":memory:" else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=ON",
            "PRAGMA case_sensitive_like=ON",
            "PRAGMA temp_store=MEMORY",
            f"PRAGMA cache_size={-PAGE_CACHE_KIB}",
            f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}",
            f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES if checkpointer else 1000}",
        ):
            cursor.execute(pragma)
        cursor.close()
        if checkpointer is not None:
            checkpointer.start()

    if checkpointer is not None:
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY_KEY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _config(name: str, engine: Engine) -> tuple[Config, Any]:
    folder, version_table = MIGRATIONS[name]
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.attributes["version_table"] = version_table
    return cfg, version_table


def upgrade(name: str, engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (the newest unless told; the upgrade test builds a
    database of an older release this way); on PostgreSQL one process at a time (several
    replicas start at once)."""
    cfg, _ = _config(name, engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('scim-sync:migrations'))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def pending(name: str, engine: Engine) -> bool:
    """Whether the database is behind this code's migrations (readiness says not ready)."""
    cfg, version_table = _config(name, engine)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect().execution_options(**READ_ONLY) as conn:
        current = set(
            MigrationContext.configure(
                conn, opts={"version_table": version_table}
            ).get_current_heads()
        )
    return current != heads


def upgrade_all(staging: Engine, idm: Engine) -> None:
    upgrade("staging", staging)
    upgrade("identity_store", idm)
