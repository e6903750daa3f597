"""A runtime composed with a declarative mapping, and what a run's applies carried out.

The mapping tests change the mapping between two runs on the same database and directory, as
an operator editing the mapping file and restarting does: each runtime is composed afresh from
the TOML text (``BASE`` stands for the test's own LDAP base DN).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from connectors.ldap.settings import LdapSettings
from reconcile.changes import Applied, Change
from reconcile.mapping import compile_mapping
from reconcile.model import Desired
from reconcile.runner import RunReport
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support.clock import FakeClock


def compose_mapped(
    database_url: str, clock: FakeClock, mapping: str, ldap: LdapSettings | None = None
) -> Runtime:
    """A runtime with ``mapping`` (TOML, ``[mapping…]`` tables) and, when given, LDAP."""
    base = ldap.base_dn if ldap is not None else ""
    compiled = compile_mapping(tomllib.loads(mapping.replace("BASE", base))["mapping"], "m.toml")
    settings = Settings(database_url=database_url, mapping=compiled)
    if ldap is not None:
        settings = replace(settings, ldap=replace(ldap, mapping=compiled.target("ldap")))
    return compose(settings, public_url="http://scim.test", clock=clock)


@contextmanager
def mapped(
    database_url: str, clock: FakeClock, mapping: str, ldap: LdapSettings | None = None
) -> Iterator[Runtime]:
    runtime = compose_mapped(database_url, clock, mapping, ldap)
    try:
        yield runtime
    finally:
        runtime.dispose()


def run_recorded(runtime: Runtime) -> tuple[RunReport, list[Change]]:
    """One run of every target; the changes their applies carried out."""
    done: list[Change] = []
    for target in runtime.targets:
        original = target.apply

        def recording(desired: Desired, anchor: str | None, apply: Any = original) -> Applied:
            outcome: Applied = apply(desired, anchor)
            done.extend(outcome.changes)
            return outcome

        target.apply = recording  # type: ignore[method-assign]
    try:
        report = runtime.reconciler.run_once()
    finally:
        for target in runtime.targets:
            del target.apply
    return report, done


def dry_run_full(runtime: Runtime) -> list[Change]:
    """What ``reconcile --full --dry-run`` lists, every target."""
    return [c for report in runtime.full.run(dry_run=True) for c in report.changes]


def shown(changes: list[Change]) -> list[str]:
    """Changes as a person reads them, sorted: what two lists of changes are compared by."""
    return sorted(f"{c.target}: {c.describe()}" for c in changes)
