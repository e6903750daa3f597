"""Fixtures for Active Directory: one real Samba AD DC per machine, a fresh OU per test.

With CI=true a DC that cannot run here (Samba missing, its ports taken) fails these tests
instead of skipping them, as a missing slapd or PostgreSQL does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import ldap3
import pytest

from tests.support.samba_dc import DcUnavailableError, SambaDc, shared_dc

IN_CI = os.environ.get("CI", "").lower() == "true"


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
def ad_ou(samba_dc: SambaDc, ad_admin: ldap3.Connection) -> str:
    """A new, empty OU below ``OU=People``: names in it clash only with this test's own."""
    name = f"t{uuid.uuid4().hex[:10]}"
    dn = f"OU={name},{samba_dc.ou('People')}"
    _, result, _, _ = ad_admin.add(dn, ["top", "organizationalUnit"], {"ou": name})
    assert result["result"] == 0, result
    return dn
