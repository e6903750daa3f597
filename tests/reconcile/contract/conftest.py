"""The contract suite's targets: the in-memory target, the Identity Manager store, LDAP (real
slapd) and LDAP as Active Directory (the real Samba DC, one per run), each over a staging store
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.ldap.target import LdapTarget
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock
from tests.support.ad_helpers import ad_settings
from tests.support.contract_harness import Harness, relocated, with_memory_target
from tests.support.directory import compose_with_ldap
from tests.support.samba_dc import SambaDc
from tests.support.slapd import SlapdServer, require_slapd

TARGETS = ["memory", "identity_store", "ldap", "active_directory"]


@pytest.fixture(params=TARGETS)
def harness(
    request: pytest.FixtureRequest, database_url: str, clock: FakeClock
) -> Iterator[Harness]:
    kind = request.param
    if kind == "ldap":
        require_slapd()
        slapd: SlapdServer = request.getfixturevalue("slapd")
        runtime: Runtime = compose_with_ldap(database_url, clock, slapd.url)
    elif kind == "active_directory":
        dc: SambaDc = request.getfixturevalue("samba_dc")
        ldap = ad_settings(dc, request.getfixturevalue("ad_ou"))
        runtime = compose(
            Settings(database_url=database_url, ldap=ldap),
            public_url="http://scim.test",
            clock=clock,
        )
    else:
        runtime = compose(
            Settings(database_url=database_url), public_url="http://scim.test", clock=clock
        )
    try:
        if kind == "memory":
            yield Harness(runtime, with_memory_target(runtime), lookalike=str.upper)
        elif kind == "identity_store":
            store = next(t for t in runtime.targets if t.name == "identity_store")
            yield Harness(runtime, store, lookalike=str)
        else:
            ldap_target = next(t for t in runtime.targets if isinstance(t, LdapTarget))
            yield Harness(
                runtime,
                ldap_target,
                lookalike=lambda name: f"{name.upper()} ",
                relocate=relocated(runtime.settings.ldap, runtime),
            )
    finally:
        runtime.dispose()
