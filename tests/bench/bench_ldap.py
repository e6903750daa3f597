"""Benchmark: users applied into slapd by the reconciler vs a raw one-connection ldap3 loop.

Everything runs in one process against one throwaway slapd (nosync, indexed as a production
directory should be): N creates then N modifies, four ways, each in its own subtree:

- raw: the baseline, one plain SYNC connection writing blindly, one operation after the other;
- connector: ``LdapTarget.apply`` from as many threads as it has connections, as the run loop
  calls it, without the ledger (reads the entry, compares, writes, anchors by entryUUID);
- reconciler: ``run_once`` end to end (ledger → load desired state → apply → record outcome);
- run loop alone: ``run_once`` with a target that does nothing, i.e. the ledger's own ceiling.

Rates are printed with their ratio to the raw loop measured in the same run; nothing asserts a
time. Run:  .venv/bin/python -m tests.bench.bench_ldap [--users 5000] [--connections 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import ldap3

from connectors.ldap.target import LdapTarget
from inbound.schema import USER_TYPE
from inbound.staging.store import Actor
from reconcile.model import Desired, DesiredIdentity
from reconcile.ports import Action, Applied
from reconcile.runner import Reconciler
from scheduler.composition import compose, utcnow
from scheduler.settings import Settings
from tests.ldap.conftest import fresh_base, settings_for
from tests.ldap.server import ROOT_DN, ROOT_PW, SlapdServer
from tests.support import entra_user, patch_body

PERSON: dict[str, Any] = {
    "email": "c@example.com",
    "given_name": "Given",
    "family_name": "Family",
    "display_name": "User",
    "title": "Engineer",
    "department": "Research",
}


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
    runtime = compose(Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", ldap=ldap))
    try:
        return _stage_and_run(runtime, "U", "ldap", users)
    finally:
        runtime.dispose()


def _stage_and_run(runtime: Any, prefix: str, target: str, users: int) -> tuple[float, float]:
    """Stage ``users`` creates and time one run, then a title change each and time another."""
    actor = Actor("bench")
    ids = [
        runtime.store.create(USER_TYPE, entra_user(f"{prefix}{i:06d}"), actor).scim_id
        for i in range(users)
    ]
    created = _timed_run(runtime, target)
    change = patch_body({"op": "replace", "path": "title", "value": "Lead"})
    for scim_id in ids:
        runtime.store.patch(USER_TYPE, scim_id, change, actor)
    modified = _timed_run(runtime, target)
    return users / created, users / modified


def _timed_run(runtime: Any, target: str) -> float:
    started = time.perf_counter()
    report = runtime.reconciler.run_once(only=[target])
    elapsed = time.perf_counter() - started
    done = report.targets[0]
    assert done.retrying == done.dead == 0 and done.unavailable is None, done
    return float(elapsed)


def connector(url: str, users: int, connections: int) -> tuple[float, float]:
    """The target alone, called from ``connections`` threads at once like the run loop does."""
    target = LdapTarget(settings_for(url, fresh_base(url), connections=connections))
    first = [DesiredIdentity(f"s{i}", 1, f"C{i:06d}", **PERSON) for i in range(users)]
    second = [replace(d, generation=2, title="Lead") for d in first]
    try:
        with ThreadPoolExecutor(connections) as pool:
            started = time.perf_counter()
            anchors = list(pool.map(lambda d: target.apply(d, None).anchor, first))
            created = time.perf_counter() - started
            started = time.perf_counter()
            list(pool.map(target.apply, second, anchors))
            modified = time.perf_counter() - started
    finally:
        target.close()
    return users / created, users / modified


class NoopTarget:
    """Applies nothing: what is left is the run loop's and the ledger's own cost."""

    name = "noop"

    def __init__(self, parallelism: int) -> None:
        self.parallelism = parallelism

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        return Applied(Action.UPDATED, anchor or desired.scim_id)


def run_loop_alone(workdir: Path, users: int, connections: int) -> tuple[float, float]:
    runtime = compose(Settings(database_url=f"sqlite:///{workdir / 'noop.db'}"))
    runtime.reconciler = Reconciler(
        runtime.ledger, runtime.ledger, [NoopTarget(connections)], clock=utcnow
    )
    try:
        return _stage_and_run(runtime, "N", "noop", users)
    finally:
        runtime.dispose()


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
            rows = {
                "raw ldap3 loop (baseline)": raw_loop(
                    server.url, fresh_base(server.url), args.users
                ),
                f"connector, {args.connections} connections": connector(
                    server.url, args.users, args.connections
                ),
                "reconciler run_once": reconciler(
                    server.url, workdir, args.users, args.connections
                ),
                "run loop + ledger, no-op target": run_loop_alone(
                    workdir, args.users, args.connections
                ),
            }
        finally:
            server.stop()
    raw_add, raw_mod = rows["raw ldap3 loop (baseline)"]
    print(f"users: {args.users}; slapd nosync on loopback; staging on SQLite")
    print(f"{'':34}{'creates/s':>10}{'ratio':>7}{'modifies/s':>12}{'ratio':>7}")
    for name, (add, mod) in rows.items():
        print(f"{name:34}{add:>10,.0f}{add / raw_add:>7.2f}{mod:>12,.0f}{mod / raw_mod:>7.2f}")


if __name__ == "__main__":
    main()
