"""Fixtures for the LDAP target: a real slapd per test session, a fresh subtree per test.

With CI=true a missing slapd fails these tests instead of skipping them (as PostgreSQL does).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from litestar.testing import TestClient

from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.ldap.server import ROOT_DN, ROOT_PW, SUFFIX, Pki, SlapdServer, find_slapd, make_pki
from tests.support import FakeClock

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_slapd() -> None:
    if find_slapd() is None:
        message = "slapd is not installed (Debian: apt-get install slapd ldap-utils)"
        if IN_CI:
            pytest.fail(f"slapd is required in CI: {message}")
        pytest.skip(message)


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


def admin(url: str) -> ldap3.Connection:
    server = ldap3.Server(url, get_info=ldap3.NONE)
    return ldap3.Connection(
        server, ROOT_DN, ROOT_PW, client_strategy=ldap3.SAFE_SYNC, auto_bind=True, check_names=False
    )


def fresh_base(url: str) -> str:
    """A new, empty ``ou=`` below the suffix: each test sees only its own entries."""
    base = f"ou=t{uuid.uuid4().hex[:10]},{SUFFIX}"
    conn = admin(url)
    try:
        _, result, _, _ = conn.add(base, ["organizationalUnit"], {"ou": base[3:13]})
        assert result["result"] == 0, result
    finally:
        conn.unbind()
    return base


def settings_for(url: str, base: str, **overrides: object) -> LdapSettings:
    values: dict[str, object] = {
        "url": url,
        "bind_dn": ROOT_DN,
        "password": ROOT_PW,
        "base_dn": base,
        "connections": 2,
    }
    values.update(overrides)
    return LdapSettings(**values)  # type: ignore[arg-type]


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


def compose_with_ldap(database_url: str, clock: FakeClock, url: str) -> Runtime:
    ldap = settings_for(url, fresh_base(url))
    return compose(
        Settings(database_url=database_url, ldap=ldap), public_url="http://scim.test", clock=clock
    )


def scim_client(runtime: Runtime) -> TestClient[Any]:
    token = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret
    client = TestClient(create_app(runtime.services), base_url="http://scim.test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def ldap_runtime(database_url: str, clock: FakeClock, slapd: SlapdServer) -> Iterator[Runtime]:
    runtime = compose_with_ldap(database_url, clock, slapd.url)
    try:
        yield runtime
    finally:
        runtime.dispose()
