"""The test DC itself: verified LDAPS, StartTLS, and the managed OUs the fixture promises."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSocketOpenError

from tests.support.samba_dc import MANAGED_OUS, SambaDc


def test_ldaps_is_verified_against_the_dcs_own_ca(samba_dc: SambaDc) -> None:
    conn = samba_dc.connect()
    try:
        _, result, response, _ = conn.search(
            samba_dc.base_dn, "(objectClass=organizationalUnit)", ldap3.LEVEL, attributes=["ou"]
        )
        assert result["result"] == 0
        names = {e["attributes"]["ou"][0] for e in response if e["type"] == "searchResEntry"}
        assert set(MANAGED_OUS) <= names
    finally:
        conn.unbind()


def test_a_certificate_from_another_ca_is_refused(samba_dc: SambaDc) -> None:
    other = samba_dc.home / "pki" / "other.pem"
    server = ldap3.Server(samba_dc.ldaps_url, get_info=ldap3.NONE, tls=samba_dc.tls(other))
    conn = ldap3.Connection(server, samba_dc.admin, samba_dc.admin_password)
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        conn.open()


def test_starttls_binds_and_plain_ldap_refuses_a_simple_bind(samba_dc: SambaDc) -> None:
    conn = samba_dc.connect(starttls=True)
    assert conn.tls_started
    conn.unbind()
    server = ldap3.Server(samba_dc.ldap_url, get_info=ldap3.NONE)
    plain = ldap3.Connection(server, samba_dc.admin, samba_dc.admin_password)
    try:
        assert not plain.bind()
        assert plain.result["result"] == 8  # strongerAuthRequired
    finally:
        plain.unbind()
