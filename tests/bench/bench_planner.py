"""Benchmark: what a target's planner costs per user, with no I/O at all.

``plan(desired, observed)`` runs for every apply, every line of ``--dry-run`` and every entry
the full reconcile compares, so its cost per user is paid 100,000 times by a full reconcile of
100,000 users. Measured here for the LDAP and Identity Manager planners (and the in-memory
example), on three situations: nothing to change (the full reconcile's usual case), one
attribute changed, and a user to create. Each is printed in microseconds per user and as a
ratio to a baseline of the same run: for LDAP, computing the entry's desired attributes alone
(``Layout.user_values``, which any decision must do first); for the store, comparing the same
ten columns in a plain dict comprehension.

Run:  .venv/bin/python -m tests.bench.bench_planner [--users 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import replace

from connectors.identity_store.planner import IDENTITY_FIELDS, StoreObserved
from connectors.identity_store.planner import plan as store_plan
from connectors.ldap.mapping import Layout
from connectors.ldap.plan import LdapObserved
from connectors.ldap.plan import plan as ldap_plan
from connectors.ldap.responses import Entry
from connectors.ldap.settings import LdapSettings
from reconcile.memory_target import MemoryEntry, MemoryObserved, MemoryTarget
from reconcile.model import DesiredIdentity

BASE = "dc=example,dc=org"


def users(count: int) -> list[DesiredIdentity]:
    return [
        DesiredIdentity(
            f"id-{i}",
            1,
            f"U{i:06d}",
            email=f"u{i:06d}@example.com",
            given_name="Given",
            family_name="Family",
            display_name=f"User {i}",
            title="Engineer",
            department="Research",
            employee_number=f"{i:06d}",
        )
        for i in range(count)
    ]


def best(rounds: int, count: int, cases: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Microseconds per user of each case, best of ``rounds``; the cases take turns round by
    round, so a busy moment of the shared machine does not fall on one case alone."""
    times: dict[str, float] = {name: float("inf") for name in cases}
    gc.disable()  # as timeit does: a collection falling on one case is not that case's cost
    try:
        for _ in range(rounds):
            for name, work in cases.items():
                started = time.perf_counter()
                work()
                times[name] = min(times[name], time.perf_counter() - started)
    finally:
        gc.enable()
    return {name: elapsed / count * 1e6 for name, elapsed in times.items()}


def ldap_cases(layout: Layout, people: list[DesiredIdentity]) -> dict[str, Callable[[], object]]:
    def entry_of(desired: DesiredIdentity) -> LdapObserved:
        values = layout.user_values(desired, None)
        attributes = {a.lower(): list(v) for a, v in values.items() if v}
        attributes["entryuuid"] = [f"uuid-{desired.scim_id}"]
        return LdapObserved(Entry(layout.user_dn(desired, values), attributes))

    same = [(d, entry_of(d)) for d in people]
    changed = [(replace(d, title="Lead"), o) for d, o in same]
    absent = [(d, LdapObserved(None)) for d in people]
    return {
        "baseline: Layout.user_values": lambda: [layout.user_values(d, None) for d in people],
        "plan, unchanged": lambda: [ldap_plan(layout, d, o) for d, o in same],
        "plan, one attribute changed": lambda: [ldap_plan(layout, d, o) for d, o in changed],
        "plan, create": lambda: [ldap_plan(layout, d, o) for d, o in absent],
    }


def store_cases(people: list[DesiredIdentity]) -> dict[str, Callable[[], object]]:
    def row_of(desired: DesiredIdentity) -> dict[str, object]:
        row: dict[str, object] = {f: getattr(desired, f) for f in IDENTITY_FIELDS}
        return {**row, "user_id": desired.user_id, "scim_id": desired.scim_id, "extra": None}

    same = [(d, StoreObserved(row_of(d))) for d in people]
    changed = [(replace(d, title="Lead"), o) for d, o in same]
    absent = [(d, StoreObserved(None)) for d in people]

    def compare_only() -> object:
        return [
            {f: getattr(d, f) for f in IDENTITY_FIELDS if o.row and o.row[f] != getattr(d, f)}
            for d, o in same
        ]

    return {
        "baseline: the columns compared": compare_only,
        "plan, unchanged": lambda: [store_plan(d, o) for d, o in same],
        "plan, one attribute changed": lambda: [store_plan(d, o) for d, o in changed],
        "plan, create": lambda: [store_plan(d, o) for d, o in absent],
    }


def memory_cases(people: list[DesiredIdentity]) -> dict[str, Callable[[], object]]:
    target = MemoryTarget()
    same = [
        (d, MemoryObserved(MemoryEntry(f"m{i}", d.kind, d.user_id, {"active": True})))
        for i, d in enumerate(people)
    ]
    return {"plan, one attribute changed": lambda: [target.plan(d, o) for d, o in same]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    people = users(args.users)
    layout = Layout.from_settings(LdapSettings(url="ldap://127.0.0.1", base_dn=BASE))
    print(f"{args.users} users, best of {args.rounds} rounds; microseconds per user")
    for title, cases in (
        ("LDAP planner", ldap_cases(layout, people)),
        ("Identity Manager store planner", store_cases(people)),
        ("in-memory example target", memory_cases(people)),
    ):
        figures = best(args.rounds, args.users, cases)
        baseline = next((v for k, v in figures.items() if k.startswith("baseline")), None)
        print(title)
        for name, value in figures.items():
            ratio = f"{value / baseline:>6.2f} x" if baseline else ""
            print(f"  {name:34}{value:>8.2f} µs {ratio}")


if __name__ == "__main__":
    main()
