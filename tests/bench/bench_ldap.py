"""Benchmark: users applied into slapd by the reconciler vs a raw one-connection ldap3 loop.

Both run in the same process against the same throwaway slapd (nosync, indexed as a production
directory should be): N adds then N modifies. The raw loop is the baseline — it only writes,
one operation after the other, and knows nothing about anchors, adoption or the ledger; the
reconciler does its full job (stage → ledger → read entry → write → record) with its
connection pool. Figures are printed as rates and as a ratio to the baseline; nothing asserts a
time. Run:  .venv/bin/python -m tests.bench.bench_ldap [--users 5000] [--connections 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import ldap3

from inbound.schema import USER_TYPE
from inbound.staging.store import Actor
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.ldap.conftest import fresh_base, settings_for
from tests.ldap.server import ROOT_DN, ROOT_PW, SlapdServer
from tests.support import entra_user, patch_body


def raw_loop(url: str, base: str, users: int) -> tuple[float, float]:
    """Adds then modifies over one plain SYNC connection: the fastest simple client."""
    conn = ldap3.Connection(
        ldap3.Server(url, get_info=ldap3.NONE), ROOT_DN, ROOT_PW, auto_bind=True, check_names=False
    )
    people = f"ou=people,{base}"
    conn.add(people, ["organizationalUnit"], {"ou": "people"})
    started = time.perf_counter()
    for i in range(users):
        user_id = f"R{i:06d}"
        ok = conn.add(
            f"uid={user_id},{people}",
            ["inetOrgPerson", "organizationalPerson", "person", "top"],
            {
                "uid": user_id,
                "cn": f"User {user_id}",
                "sn": "Family",
                "givenName": "Given",
                "displayName": f"User {user_id}",
                "mail": f"{user_id.lower()}@example.com",
                "title": "Engineer",
                "departmentNumber": "Research",
                "employeeNumber": user_id,
            },
        )
        assert ok, conn.result
    added = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(users):
        ok = conn.modify(f"uid=R{i:06d},{people}", {"title": [(ldap3.MODIFY_REPLACE, ["Lead"])]})
        assert ok, conn.result
    modified = time.perf_counter() - started
    conn.unbind()
    return users / added, users / modified


def reconciler(url: str, workdir: Path, users: int, connections: int) -> tuple[float, float]:
    """The same users staged through the SCIM store, then applied by ``run_once``."""
    ldap = settings_for(url, fresh_base(url), connections=connections)
    runtime = compose(
        Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", ldap=ldap), migrate=True
    )
    actor = Actor("bench")
    try:
        ids = [
            runtime.store.create(USER_TYPE, entra_user(f"U{i:06d}"), actor).scim_id
            for i in range(users)
        ]
        created = _timed_run(runtime)
        for scim_id in ids:
            runtime.store.patch(
                USER_TYPE,
                scim_id,
                patch_body({"op": "replace", "path": "title", "value": "Lead"}),
                actor,
            )
        modified = _timed_run(runtime)
        return users / created, users / modified
    finally:
        runtime.dispose()


def _timed_run(runtime: Any) -> float:
    started = time.perf_counter()
    report = runtime.reconciler.run_once(only=["ldap"])
    elapsed = time.perf_counter() - started
    ldap = report.targets[0]
    assert ldap.retrying == ldap.dead == 0 and ldap.unavailable is None, ldap
    return float(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        workdir = Path(tmp)
        server = SlapdServer(workdir / "slapd")
        server.start()
        try:
            raw_add, raw_mod = raw_loop(server.url, fresh_base(server.url), args.users)
            rec_add, rec_mod = reconciler(server.url, workdir, args.users, args.connections)
        finally:
            server.stop()
    print(f"users: {args.users}, reconciler connections: {args.connections}")
    print(f"{'':12}{'raw ldap3 loop':>18}{'reconciler':>14}{'ratio':>8}")
    print(f"{'creates/s':12}{raw_add:>18,.0f}{rec_add:>14,.0f}{rec_add / raw_add:>8.2f}")
    print(f"{'modifies/s':12}{raw_mod:>18,.0f}{rec_mod:>14,.0f}{rec_mod / raw_mod:>8.2f}")


if __name__ == "__main__":
    main()
