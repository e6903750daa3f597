"""Fixtures for Active Directory: one real Samba AD DC per machine, a fresh OU per test.

With CI=true a DC that cannot run here (Samba missing, its ports taken) fails these tests
instead of skipping them, as a missing slapd or PostgreSQL does. Each test's OU is deleted with
everything in it afterwards (the tree-delete control): sAMAccountNames and userPrincipalNames
are unique in the whole domain, so what one test made must not stay to clash with the next.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import ldap3
import pytest

from tests.support.samba_dc import DcUnavailableError, SambaDc, shared_dc

IN_CI = os.environ.get("CI", "").lower() == "true"
TREE_DELETE = "1.2.840.113556.1.4.805"


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[SambaDc]:
    try:
        with shared_dc() as dc:
            yield dc
    except DcUnavailableError as exc:
        if IN_CI:
            pytest.fail(f"a Samba AD DC is required in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def ad_admin(samba_dc: SambaDc) -> Iterator[ldap3.Connection]:
    """The domain administrator over verified LDAPS."""
    conn = samba_dc.connect()
    try:
        yield conn
    finally:
        conn.unbind()


@pytest.fixture
def ad_ou(samba_dc: SambaDc) -> Iterator[str]:
    """A new, empty OU below ``OU=People``: names in it clash only with this test's own."""
    name = f"t{uuid.uuid4().hex[:10]}"
    dn = f"OU={name},{samba_dc.ou('People')}"
    conn = samba_dc.connect()
    try:
        _, result, _, _ = conn.add(dn, ["top", "organizationalUnit"], {"ou": name})
        assert result["result"] == 0, result
        yield dn
        conn.delete(dn, controls=[(TREE_DELETE, True, None)])
    finally:
        conn.unbind()
