"""First passwords on the Samba DC: the domain's policy, encrypted transports only, no leaks."""

from __future__ import annotations

import logging

import ldap3
import pytest

from connectors.ldap.active_directory import account_control, passwords
from connectors.ldap.active_directory.errors import classify
from connectors.ldap.active_directory.passwords import NewPassword, PasswordPolicy
from connectors.ldap.errors import LdapResultError
from reconcile.errors import PermanentTargetError, TargetUnavailableError
from tests.support.ad_helpers import USER_CLASSES, checked, read, unique
from tests.support.samba_dc import SambaDc


def domain_policy(samba_dc: SambaDc, conn: ldap3.Connection) -> PasswordPolicy:
    return PasswordPolicy.from_domain(read(conn, samba_dc.base_dn, *passwords.POLICY_ATTRIBUTES))


def create_with_password(
    conn: ldap3.Connection, dn: str, sam: str, password: NewPassword, must_change: bool = True
) -> None:
    """One add carrying the password, the must-change flag and an enabled account."""
    passwords.require_encrypted(conn.socket, dn)
    attributes = {
        "sAMAccountName": sam,
        "userPrincipalName": f"{sam}@scimsync.test",
        "userAccountControl": str(account_control.for_new_account(enabled=True)),
        **passwords.password_attributes(password, must_change),
    }
    checked("add", dn, conn.add(dn, USER_CLASSES, attributes))


def bind_as(samba_dc: SambaDc, sam: str, password: str) -> dict[str, object]:
    server = ldap3.Server(samba_dc.ldaps_url, get_info=ldap3.NONE, tls=samba_dc.tls())
    conn = ldap3.Connection(server, f"{sam}@scimsync.test", password, raise_exceptions=False)
    try:
        conn.bind()
        return dict(conn.result)
    finally:
        conn.unbind()


def test_the_default_domain_policy_is_read(samba_dc: SambaDc, ad_admin: ldap3.Connection) -> None:
    assert domain_policy(samba_dc, ad_admin) == PasswordPolicy(min_length=7, complex=True)


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_a_generated_password_is_accepted_and_must_be_changed(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str, starttls: bool
) -> None:
    sam = unique("p")
    policy = domain_policy(samba_dc, ad_admin)
    password = passwords.generate(policy, sam, "Pat Example")
    conn = samba_dc.connect(starttls=starttls)
    try:
        create_with_password(conn, f"CN=Pat Example,{ad_ou}", sam, password)
    finally:
        conn.unbind()
    stored = read(ad_admin, f"CN=Pat Example,{ad_ou}", "pwdLastSet", "userAccountControl")
    assert stored["pwdLastSet"] == [b"0"]
    assert account_control.is_enabled(account_control.parse(stored["userAccountControl"][0]))
    refused = bind_as(samba_dc, sam, password.reveal())
    # the password is right, and the account must change it first (AD's "data 773")
    assert refused["result"] == 49 and "data 773" in str(refused["message"])
    wrong = bind_as(samba_dc, sam, password.reveal() + "x")
    assert "data 52e" in str(wrong["message"])


def test_without_must_change_the_new_account_can_bind(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    sam = unique("b")
    password = passwords.generate(domain_policy(samba_dc, ad_admin), sam, "Bo Bind")
    create_with_password(ad_admin, f"CN=Bo Bind,{ad_ou}", sam, password, must_change=False)
    assert bind_as(samba_dc, sam, password.reveal())["result"] == 0


def test_a_plain_connection_is_refused_before_the_password_is_sent(samba_dc: SambaDc) -> None:
    plain = samba_dc.connect(bind=False)
    try:
        with pytest.raises(passwords.PasswordTransportError) as caught:
            create_with_password(
                plain, "CN=Never,OU=People," + samba_dc.base_dn, "never", NewPassword("x")
            )
        assert isinstance(caught.value, TargetUnavailableError)
        assert "SCIM_SYNC_LDAP_STARTTLS" in caught.value.reason
    finally:
        plain.unbind()


def test_a_password_the_policy_refuses_is_a_permanent_error_in_plain_words(
    ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    with pytest.raises(LdapResultError) as caught:
        create_with_password(ad_admin, f"CN=Weak,{ad_ou}", unique("w"), NewPassword("abc"))
    error = classify(caught.value)
    assert type(error) is PermanentTargetError
    assert "password policy refused" in error.reason
    assert "AD 0000052D ERROR_PASSWORD_RESTRICTION" in error.reason


def test_the_password_never_reaches_the_logs(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sam = unique("s")
    password = passwords.generate(domain_policy(samba_dc, ad_admin), sam, "Sec Ret")
    logging.getLogger("tests.ad").info("user applied %s %r", password, password)
    create_with_password(ad_admin, f"CN=Sec Ret,{ad_ou}", sam, password)
    with pytest.raises(LdapResultError) as again:  # the same add again: refused, and reported
        create_with_password(ad_admin, f"CN=Sec Ret,{ad_ou}", sam, password)
    logging.getLogger("tests.ad").warning("failed: %s", classify(again.value).reason)
    assert "user applied" in caplog.text
    for form in (password.reveal(), repr(password.reveal()), passwords.unicode_pwd(password).hex()):
        assert form not in caplog.text
        assert form not in str(again.value)
