"""A 0.1.0 database upgrades to this release and loses nothing (SQLite and PostgreSQL).

The database is built at the revisions 0.1.0 shipped (``RELEASED``), filled through that schema
with plain SQL (staged users and groups, memberships, the audit trail, per-target ledger rows,
tokens, a mass-change hold, run-time settings, Identity Manager records), and upgraded by the
code path of ``scim-sync db upgrade``. Then every row is as it was (but for what a migration is
meant to rewrite, said below), the tokens still authenticate over HTTP, the per-target states
read back the same, and a full reconcile's dry run plans nothing.

Migrations are append-only from 0.1.0 on: a released revision is never edited, so this test
keeps passing as revisions are added after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import Engine, inspect, text

from inbound.auth import SecretKind, hash_secret
from inbound.web.app import create_app
from scheduler import db
from scheduler.cli import main
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock

RELEASED = {"staging": "0003_tokens", "identity_store": "0001"}
"""The head revision of each chain in 0.1.0. No release was tagged; 0.1.0 is the state at the
end of the first round of work (2026-11-30, commit 2f6b0de), whose revision files are unchanged
since: everything after them (0004 name keys onwards) came with 0.2.0."""
DROPPED = {("token_renewal", "lease_owner"), ("token_renewal", "lease_until")}
"""Columns a later revision removes on purpose: 0006 gave token renewal the job lock every
singleton job takes, and its own lease (held for minutes while a renewal runs) went."""

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
U1, U2, U3 = (f"0190a000-0000-7000-8000-00000000000{n}" for n in (1, 2, 3))
G1 = "0190a000-0000-7000-8000-0000000000a1"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)
SCIM_SECRET = "sst_released-in-0.1.0-and-still-valid-after-the-upgrade"
ADMIN_SECRET = "ssa_an-admin-key-from-0.1.0-that-must-keep-working"

ADA = {
    "userName": "E1001",
    "externalId": "ext-1",
    "active": True,
    "displayName": "Ada Lovelace",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "title": "Engineer",
    "emails": [{"type": "work", "value": "ada@example.com", "primary": True}],
    # how 0.1.0 stored a role created by `roles[primary eq "True"].value`: the flag as text
    "roles": [{"primary": "True", "value": "Admin", "display": "Administrator"}],
    ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"},
}
BOB = {
    "userName": "E1002",
    "active": False,
    "emails": [{"type": "work", "value": "bob@example.com"}],
    ENTERPRISE: {"manager": {"value": U1}},
}
GONE = {"userName": "E1003"}
ENGINEERS = {"displayName": "Engineers", "externalId": "g-ext"}


def _stamp(dialect: str, moment: datetime | None) -> Any:
    """A timestamp as 0.1.0 wrote it: SQLAlchemy's SQLite text form, PostgreSQL's timestamptz."""
    if moment is None or dialect != "sqlite":
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _resource(
    scim_id: str, kind: str, key: str, data: dict[str, Any], **row: Any
) -> dict[str, Any]:
    return {
        "scim_id": scim_id,
        "kind": kind,
        "name_key": key,
        "external_id": data.get("externalId"),
        "display_name": data.get("displayName"),
        "active": data.get("active", True),
        "data": json.dumps(data),
        "generation": 1,
        "created_at": EARLIER,
        "updated_at": EARLIER,
        "deleted_at": None,
        **row,
    }


def _ledger(target: str, scim_id: str, phase: int, generation: int, **row: Any) -> dict[str, Any]:
    return {
        "target": target,
        "scim_id": scim_id,
        "phase": phase,
        "desired_generation": generation,
        "desired_active": True,
        "observed_active": True,
        "observed_generation": generation,
        "attempted_generation": generation,
        "anchor": scim_id,
        "status": "applied",
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None,
        "changed_at": EARLIER,
        "updated_at": EARLIER,
        **row,
    }


def _identity(user_id: str, scim_id: str, **row: Any) -> dict[str, Any]:
    fields = ("external_id", "email", "given_name", "family_name", "display_name", "title")
    return {
        "user_id": user_id,
        "scim_id": scim_id,
        **dict.fromkeys(fields),
        "department": None,
        "employee_number": None,
        "manager_user_id": None,
        "active": True,
        "created_at": EARLIER,
        "updated_at": EARLIER,
        **row,
    }


RELEASED_ROWS: dict[str, list[dict[str, Any]]] = {
    "scim_resources": [
        _resource(U1, "User", "e1001", ADA, generation=2),
        _resource(U2, "User", "e1002", BOB),
        _resource(U3, "User", "e1003", GONE, generation=2, deleted_at=EARLIER),
        _resource(G1, "Group", "engineers", ENGINEERS, generation=3),
    ],
    "scim_attr_values": [
        {"scim_id": scim_id, "path": path, "elem": 0, "text_value": value, "num_value": None}
        for scim_id, path, value in [
            (U1, "username", "e1001"),
            (U1, "name.familyname", "lovelace"),
            (U1, "name.givenname", "ada"),
            (U1, "displayname", "ada lovelace"),
            (U1, "title", "engineer"),
            (U1, "active", "true"),
            (U1, "emails.value", "ada@example.com"),
            (U1, "emails.type", "work"),
            (U1, "emails.primary", "true"),
            (U1, "roles.value", "admin"),
            (U1, "roles.display", "administrator"),
            (U1, "roles.primary", "true"),
            (U1, f"{ENTERPRISE.lower()}:employeenumber", "1001"),
            (U1, f"{ENTERPRISE.lower()}:department", "r&d"),
            (U1, "externalid", "ext-1"),
            (U2, "username", "e1002"),
            (U2, "active", "false"),
            (U2, "emails.value", "bob@example.com"),
            (U2, "emails.type", "work"),
            (U2, f"{ENTERPRISE.lower()}:manager.value", U1),
            (G1, "displayname", "engineers"),
            (G1, "externalid", "g-ext"),
        ]
    ],
    "scim_members": [
        {"group_id": G1, "member_id": U1, "member_type": "User"},
        {"group_id": G1, "member_id": U2, "member_type": "User"},
    ],
    "audit_events": [
        {
            "at": EARLIER,
            "request_id": "r-1",
            "actor": "tok-scim-1",
            "scim_id": U1,
            "kind": "User",
            "operation": "create",
            "generation": 1,
            "outcome": "ok",
            "detail": json.dumps({"a": 1}),
        },
        {
            "at": EARLIER,
            "request_id": None,
            "actor": "identity_store",
            "scim_id": U1,
            "kind": "User",
            "operation": "apply",
            "generation": 2,
            "outcome": "updated",
            "detail": None,
        },
    ],
    "sync_state": [
        _ledger("identity_store", U1, 2, 2),
        _ledger("identity_store", U2, 2, 1, desired_active=False, observed_active=False),
        _ledger("identity_store", U3, 1, 2, anchor=None),
        _ledger("identity_store", G1, 3, 3),
        _ledger(
            "ldap",
            U1,
            2,
            2,
            observed_generation=1,
            status="dead",
            attempts=5,
            anchor="5f1c9a2e-entry-uuid",
            last_error="objectClassViolation: no sn",
        ),
        _ledger(
            "ldap",
            G1,
            3,
            3,
            observed_generation=2,
            status="retrying",
            attempts=2,
            next_attempt_at=NOW + timedelta(minutes=5),
            last_error="busy",
        ),
    ],
    "mass_change_holds": [
        {
            "target": "ldap",
            "deletes": 120,
            "disables": 4,
            "managed": 300,
            "detected_at": EARLIER,
            "approved_at": None,
            "approved_by": None,
            "closed_at": None,
        },
    ],
    "tokens": [
        {
            "id": "tok-scim-1",
            "kind": "scim",
            "secret_hash": hash_secret(SCIM_SECRET),
            "created_at": EARLIER,
            "expires_at": EARLIER + timedelta(hours=10),
            "revoked_at": None,
            "label": "first start",
            "delivery": None,
        },
        {
            "id": "tok-admin-1",
            "kind": "admin",
            "secret_hash": hash_secret(ADMIN_SECRET),
            "created_at": EARLIER,
            "expires_at": None,
            "revoked_at": None,
            "label": "admin",
            "delivery": None,
        },
    ],
    "runtime_settings": [{"key": "reconcile_interval", "value": "300", "updated_at": EARLIER}],
    "token_renewal": [
        {
            "name": "scim",
            "sink": "graph",
            "attempts": 0,
            "last_attempt_at": EARLIER,
            "next_attempt_at": EARLIER + timedelta(hours=9),
            "last_error": None,
            "delivered_at": EARLIER,
            "delivered_token_id": "tok-scim-1",
            "updated_at": EARLIER,
            "lease_owner": None,
            "lease_until": None,
        },
    ],
    "idm_identities": [
        _identity(
            "E1001",
            U1,
            external_id="ext-1",
            email="ada@example.com",
            given_name="Ada",
            family_name="Lovelace",
            display_name="Ada Lovelace",
            title="Engineer",
            department="R&D",
            employee_number="1001",
        ),
        _identity("E1002", U2, email="bob@example.com", manager_user_id="E1001", active=False),
    ],
    "idm_groups": [
        {
            "scim_id": G1,
            "display_name": "Engineers",
            "external_id": "g-ext",
            "created_at": EARLIER,
            "updated_at": EARLIER,
        },
    ],
    "idm_group_members": [
        {"group_scim_id": G1, "user_id": "E1001"},
        {"group_scim_id": G1, "user_id": "E1002"},
    ],
}
STAMPED = {"at", "created_at", "updated_at", "deleted_at", "changed_at", "next_attempt_at",
           "detected_at", "approved_at", "closed_at", "expires_at", "revoked_at",
           "last_attempt_at", "delivered_at", "lease_until"}  # fmt: skip


def _fill(engine: Engine) -> None:
    dialect = engine.dialect.name
    with engine.begin() as conn:
        for table, rows in RELEASED_ROWS.items():
            columns = list(rows[0])
            statement = text(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)})"
            )
            conn.execute(
                statement,
                [
                    {k: _stamp(dialect, v) if k in STAMPED else v for k, v in r.items()}
                    for r in rows
                ],
            )


Rows = list[dict[str, Any]]


def _snapshot(engine: Engine) -> dict[str, Rows]:
    """Every row of every table, as plain SQL reads it back, in a stable order."""
    with engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if not t.startswith("alembic")]
        return {
            t: sorted(
                (dict(r) for r in conn.execute(text(f"SELECT * FROM {t}")).mappings()), key=repr
            )
            for t in tables
        }


def _as_released(table: str, rows: Rows, released: Rows) -> tuple[Rows, Rows]:
    """(``rows``, ``released``) both cut to the columns they share. A released column may be gone
    only when listed in ``DROPPED``; a column added since is empty (NULL) on every old row."""
    columns = set(released[0]) if released else set()
    if rows:
        assert {(table, c) for c in columns - set(rows[0])} <= DROPPED, table
    for row in rows:
        assert all(v is None for k, v in row.items() if k not in columns), (table, row)
    kept = [{k: v for k, v in row.items() if k in columns} for row in rows]
    return kept, [{k: v for k, v in row.items() if (table, k) not in DROPPED} for row in released]


@pytest.fixture
def released(database_url: str) -> Iterator[Engine]:
    """A database at 0.1.0's revisions, filled as 0.1.0 left it."""
    engine = db.make_engine(database_url)
    try:
        for chain, revision in RELEASED.items():
            db.upgrade(chain, engine, revision)
        _fill(engine)
        yield engine
    finally:
        engine.dispose()


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_every_record_token_and_state_survives_the_upgrade(
    released: Engine, database_url: str
) -> None:
    before = _snapshot(released)
    upgraded = CliRunner().invoke(
        main, ["db", "upgrade"], env={"SCIM_SYNC_DATABASE_URL": database_url}
    )
    assert upgraded.exit_code == 0, upgraded.output
    after = _snapshot(released)

    # Every table of 0.1.0 is there with every row as it was. The rewrites meant: 0007 makes
    # the role's "True" the boolean true (docs/entra-dialect.md, App roles); 0008 deletes the
    # attribute index's externalId rows (the column serves every filter on it).
    assert set(before) <= set(after)
    for table, released_rows in before.items():
        kept, rows = _as_released(table, after[table], released_rows)
        if table == "scim_resources":
            for row in rows + kept:
                row["data"] = _decoded(row["data"])
            next(r for r in rows if r["scim_id"] == U1)["data"]["roles"][0]["primary"] = True
        if table == "scim_attr_values":
            rows = [r for r in rows if r["path"] != "externalid"]
        assert kept == rows, table
    assert after["idm_identity_roles"] == []

    clock = FakeClock(NOW)
    runtime = compose(
        Settings(database_url=database_url), public_url="http://scim.test", clock=clock
    )
    try:
        _reads_back(runtime)
    finally:
        runtime.dispose()


def _reads_back(runtime: Runtime) -> None:
    assert runtime.tokens.verify(SCIM_SECRET, SecretKind.SCIM) == "tok-scim-1"
    assert runtime.tokens.verify(ADMIN_SECRET, SecretKind.ADMIN) == "tok-admin-1"
    scim = {"Authorization": f"Bearer {SCIM_SECRET}"}
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        found = client.get(
            "/scim/v2/Users", params={"filter": 'roles[primary eq "True"]'}, headers=scim
        )
        assert found.status_code == 200, found.text
        assert [u["userName"] for u in found.json()["Resources"]] == ["E1001"]
        assert found.json()["Resources"][0]["roles"] == [
            {"primary": True, "value": "Admin", "display": "Administrator"}
        ]
        bob = client.get(f"/scim/v2/Users/{U2}", headers=scim).json()
        assert bob["active"] is False and bob[ENTERPRISE]["manager"]["value"] == U1
        assert client.get(f"/scim/v2/Users/{U3}", headers=scim).status_code == 404
        group = client.get(f"/scim/v2/Groups/{G1}", headers=scim).json()
        assert sorted(m["value"] for m in group["members"]) == [U1, U2]
        for filter_text, found_ids in (
            ("externalId pr", [U1]),
            ('externalId eq "ext-1"', [U1]),
            ("not (externalId pr)", [U2]),
        ):
            listed = client.get("/scim/v2/Users", params={"filter": filter_text}, headers=scim)
            assert [u["id"] for u in listed.json()["Resources"]] == found_ids, filter_text
        admin = {"Authorization": f"Bearer {ADMIN_SECRET}"}
        record = client.get("/api/v1/identities/E1001", headers=admin)
        assert record.status_code == 200, record.text

    states = {s.target: s for s in runtime.ledger.states_of(U1, ["identity_store", "ldap"])}
    assert (states["identity_store"].status, states["identity_store"].observed_generation) == (
        "applied",
        2,
    )
    ldap = states["ldap"]
    assert (ldap.status, ldap.attempts, ldap.last_error, ldap.anchor) == (
        "dead",
        5,
        "objectClassViolation: no sn",
        "5f1c9a2e-entry-uuid",
    )
    hold = runtime.ledger.open_hold("ldap")
    assert hold is not None and (hold.deletes, hold.disables, hold.approved) == (120, 4, False)

    ada = runtime.identities.get("E1001")
    assert ada is not None
    assert (ada["email"], ada["groups"], ada["roles"], ada["extra"]) == (
        "ada@example.com",
        ["Engineers"],
        [],
        {},
    )

    # A full reconcile plans only what the new defaults add to the Identity Manager store:
    # E1001's app role Admin (0.1.0 kept roles in staging only). Nothing else drifted.
    env = {"SCIM_SYNC_DATABASE_URL": runtime.settings.database_url}
    planned = CliRunner().invoke(main, ["reconcile", "--full", "--dry-run", "--json"], env=env)
    assert planned.exit_code == 0, planned.output
    (report,) = json.loads(planned.output)["full"]
    assert report["target"] == "identity_store"
    assert report["compared"] >= 3
    assert (report["drifted"], report["missing"], report["orphans"]) == (1, 0, 0)
    (change,) = report["changes"]
    admin_role = {"value": "Admin", "display": "Administrator", "primary": True}
    assert (change["action"], change["name"], change["diff"]) == (
        "update",
        "E1001",
        {"roles": {"observed": [], "desired": [admin_role]}},
    )
    applied = CliRunner().invoke(main, ["reconcile", "--full"], env=env)
    assert applied.exit_code == 0, applied.output
    ran = CliRunner().invoke(main, ["reconcile", "--target", "identity_store"], env=env)
    assert ran.exit_code == 0, ran.output
    ada = runtime.identities.get("E1001")
    assert ada is not None and ada["roles"] == [admin_role]
    again = CliRunner().invoke(main, ["reconcile", "--full", "--dry-run", "--json"], env=env)
    assert json.loads(again.output)["full"][0]["changes"] == []
