"""Benchmark: what resolving members and managers by their anchors costs a group and a user apply.

Members are resolved from each member's own anchor (one ledger question per 500 members, then
the entries looked up by ``entryUUID`` inside the managed subtree, 200 per search), never by
name. This prints what that costs, against the same LDAP writes made raw with ldap3 in the same
run, on one throwaway slapd (nosync) and SQLite staging:

- a group of N members created, then changed by 10 members (5 leave, 5 join), through
  ``run_once`` (ledger → desired state → anchors → LDAP), each round a new group;
- the same add and modify sent raw over one ldap3 connection (the DNs known in advance);
- users applied one at a time outside a batch (no ``prepare``), with and without a manager,
  whose DN is then looked up by its anchor for every user.

Nothing asserts a time; the ratios are against the raw figures of the same run.
Run:  .venv/bin/python -m tests.bench.bench_ldap_groups [--members 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import ldap3

from connectors.ldap.target import LdapTarget
from inbound.database.store import Actor
from inbound.schema import GROUP_TYPE, USER_TYPE
from reconcile.model import DesiredIdentity
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.bench.bench_ldap import PERSON
from tests.support import entra_group, entra_user, patch_body
from tests.support.directory import fresh_base, settings_for
from tests.support.slapd import ROOT_DN, ROOT_PW, SlapdServer

ACTOR = Actor("bench")
CHANGED = 5
"""Members that leave and members that join in the change: 10 member changes in all."""


def run(runtime: Runtime) -> float:
    started = time.perf_counter()
    done = runtime.reconciler.run_once(only=["ldap"]).targets[0]
    took = time.perf_counter() - started
    assert done.retrying == done.dead == done.waiting == 0 and done.unavailable is None, done
    return took


def staged_users(runtime: Runtime, count: int) -> list[str]:
    ids = [
        runtime.store.create(USER_TYPE, entra_user(f"m{i:06d}"), ACTOR).scim_id
        for i in range(count)
    ]
    run(runtime)
    return ids


def through_run_loop(
    runtime: Runtime, users: list[str], members: int, rounds: int
) -> tuple[float, float]:
    """Seconds to create the groups, and to change each by 10 members, summed over rounds."""
    create = change = 0.0
    for n in range(rounds):
        body = entra_group(f"Big {n}")
        body["members"] = [{"value": i} for i in users[:members]]
        group = runtime.store.create(GROUP_TYPE, body, ACTOR).scim_id
        create += run(runtime)
        patch = patch_body(
            {"op": "remove", "path": f'members[value eq "{users[0]}"]'},
            *({"op": "remove", "path": f'members[value eq "{i}"]'} for i in users[1:CHANGED]),
            {
                "op": "add",
                "path": "members",
                "value": [{"value": i} for i in users[members : members + CHANGED]],
            },
        )
        runtime.store.patch(GROUP_TYPE, group, patch, ACTOR)
        change += run(runtime)
    return create, change


def raw(url: str, people: str, members: int, rounds: int) -> tuple[float, float]:
    conn = ldap3.Connection(
        ldap3.Server(url, get_info=ldap3.NONE), ROOT_DN, ROOT_PW, auto_bind=True, check_names=False
    )
    groups = f"ou=groups,{fresh_base(url)}"
    conn.add(groups, ["organizationalUnit"], {"ou": "groups"})
    dns = [f"uid=m{i:06d},{people}" for i in range(members + CHANGED)]
    create = change = 0.0
    for n in range(rounds):
        dn = f"cn=Big {n},{groups}"
        started = time.perf_counter()
        assert conn.add(dn, ["groupOfNames"], {"cn": f"Big {n}", "member": dns[:members]})
        create += time.perf_counter() - started
        started = time.perf_counter()
        delta = [(ldap3.MODIFY_DELETE, dns[:CHANGED]), (ldap3.MODIFY_ADD, dns[members:])]
        assert conn.modify(dn, {"member": delta})
        change += time.perf_counter() - started
    conn.unbind()
    return create, change


def users_alone(url: str, count: int) -> tuple[float, float]:
    """Seconds to apply ``count`` users outside a batch without a manager, then ``count``
    others whose manager is the first of them (its DN looked up by anchor for each)."""
    target = LdapTarget(settings_for(url, fresh_base(url)))
    try:
        boss = DesiredIdentity("boss", 1, "boss", **PERSON)
        target.apply(boss, None)
        started = time.perf_counter()
        for i in range(count):
            target.apply(DesiredIdentity(f"p{i}", 1, f"p{i:06d}", **PERSON), None)
        plain = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(count):
            managed = replace(
                DesiredIdentity(f"q{i}", 1, f"q{i:06d}", **PERSON),
                manager_scim_id="boss",
                manager_user_id="boss",
            )
            target.apply(managed, None)
        return plain, time.perf_counter() - started
    finally:
        target.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=500, help="users applied alone, per kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ldap-groups-") as tmp:
        workdir = Path(tmp)
        server = SlapdServer(workdir / "slapd")
        server.start()
        try:
            ldap = settings_for(server.url, fresh_base(server.url))
            runtime = compose(Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", ldap=ldap))
            try:
                users = staged_users(runtime, args.members + CHANGED)
                ours = through_run_loop(runtime, users, args.members, args.rounds)
            finally:
                runtime.dispose()
            baseline = raw(server.url, f"ou=people,{ldap.base_dn}", args.members, args.rounds)
            plain, managed = users_alone(server.url, args.users)
        finally:
            server.stop()
    print(f"group of {args.members} members, {args.rounds} rounds; slapd nosync; SQLite staging")
    print(f"{'':36}{'create ms':>10}{'ratio':>7}{'change 10 ms':>14}{'ratio':>7}")
    for name, (create, change) in (
        ("raw ldap3 (baseline)", baseline),
        ("reconciler run_once", ours),
    ):
        c_ms, x_ms = 1000 * create / args.rounds, 1000 * change / args.rounds
        print(
            f"{name:36}{c_ms:>10,.1f}{create / baseline[0]:>7.2f}{x_ms:>14,.1f}{change / baseline[1]:>7.2f}"
        )
    print(f"\n{args.users} users applied alone (no batch)  µs/user   ratio")
    print(f"{'without a manager (baseline)':36}{1e6 * plain / args.users:>8,.0f}{1.0:>8.2f}")
    print(
        f"{'with a manager looked up by anchor':36}{1e6 * managed / args.users:>8,.0f}{managed / plain:>8.2f}"
    )


if __name__ == "__main__":
    main()
