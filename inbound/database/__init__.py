"""The service's own database: every table scim-sync keeps, and the code that reads and writes them.

One database holds the staged SCIM resources with their generations and attribute index, the
audit log, the per-target sync ledger, and the service's own state: SCIM tokens and admin keys,
live settings, job leases, token renewal, mass-change holds, admin sessions, Entra's health
and alert states. All of it is defined once, in :mod:`~inbound.database.tables` (the staged
resources and the ledger), :mod:`~inbound.database.service_tables` (the service's own state) and
:mod:`~inbound.database.entra_tables` (Entra's side), and migrated by
:mod:`inbound.database.migrations` (Alembic branch ``staging``, a name kept for databases that
already exist). The Identity Manager store is not here: it is a target, with its own tables and
migrations in ``connectors/identity_store``.

Which SQL layer a new query uses:

- **SQLAlchemy Core** (``select``/``insert`` on those tables)
  is the default. It is portable between SQLite and PostgreSQL, typed, and checked against the
  table definitions, and costs tens of microseconds per statement to build — nothing beside an
  operator's click, a job tick or a reconcile batch.
- **Fixed SQL text on the DBAPI connection** (:mod:`~inbound.database.rows`,
  :mod:`~inbound.database.pg_writes`, :mod:`~inbound.database.stored`) only on the path of every
  SCIM request: the token check, Entra's lookups, create, replace, PATCH and membership deltas.
  Building those statements through SQLAlchemy cost more than the database work itself (about
  2 ms of a 2.2 ms GET when measured); as precompiled text with bound parameters they cost
  microseconds. Such a statement must convert values exactly as the column types would, so a row
  reads back the same through either layer, and a new one earns its place with a benchmark
  figure (``tests/bench/bench_scim.py``).
- The ORM is not used: rows are values, not objects with identity.
"""
