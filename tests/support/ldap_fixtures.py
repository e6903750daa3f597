"""Fixtures for the LDAP target: a real slapd per test session, a fresh subtree per test.

With CI=true a missing slapd fails these tests instead of skipping them (as PostgreSQL does).
Every test that asks for a slapd is marked ``ldap`` here, so ``-m "not ldap"`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from scheduler.composition import Runtime
from tests.support.clock import FakeClock
from tests.support.directory import admin, compose_with_ldap, fresh_base, settings_for
from tests.support.slapd import Pki, SlapdServer, make_pki, require_slapd

SLAPD_FIXTURES = frozenset({"slapd", "own_slapd"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``ldap`` every test that needs slapd, found by the fixtures it asks for."""
    for item in items:
        if SLAPD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ldap)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), ("127.0.0.1", "localhost"))


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[SlapdServer]:
    """One slapd for the session (LDAP and LDAPS), shared through per-test subtrees."""
    require_slapd()
    server = SlapdServer(tmp_path_factory.mktemp("slapd"), pki=pki)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_slapd(tmp_path: Path) -> Iterator[SlapdServer]:
    """A slapd of this test's own, for tests that stop and restart it."""
    require_slapd()
    server = SlapdServer(tmp_path / "slapd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def directory_admin(slapd: SlapdServer) -> Iterator[ldap3.Connection]:
    """A root connection for tests to look at (and tamper with) the directory."""
    conn = admin(slapd.url)
    try:
        yield conn
    finally:
        conn.unbind()


@pytest.fixture
def ldap_settings(slapd: SlapdServer) -> LdapSettings:
    return settings_for(slapd.url, fresh_base(slapd.url))


@pytest.fixture
def ldap_target(ldap_settings: LdapSettings) -> Iterator[LdapTarget]:
    target = LdapTarget(ldap_settings, sleep=lambda _seconds: None)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def ldap_runtime(database_url: str, clock: FakeClock, slapd: SlapdServer) -> Iterator[Runtime]:
    runtime = compose_with_ldap(database_url, clock, slapd.url)
    try:
        yield runtime
    finally:
        runtime.dispose()
