"""Transport against a real slapd: verified TLS (LDAPS, StartTLS), failover, bind, reconnects."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import ldap3
import pytest

from connectors.ldap.connection import ConnectionPool
from connectors.ldap.errors import LdapResultError
from connectors.ldap.target import LdapTarget
from reconcile.errors import PermanentTargetError, TargetUnavailableError
from reconcile.ports import Action
from tests.support.directory import fresh_base, identity, settings_for, user_entry
from tests.support.processes import free_port
from tests.support.slapd import Pki, SlapdServer, make_pki, require_slapd


def apply_one(target: LdapTarget, user_id: str = "tls-user") -> Action:
    try:
        return target.apply(identity(user_id), None).action
    finally:
        target.close()


def test_ldaps_with_the_ca_file_verifies_and_works(slapd: SlapdServer, pki: Pki) -> None:
    base = fresh_base(slapd.url)
    target = LdapTarget(settings_for(slapd.ldaps_url, base, tls_ca_file=str(pki.ca_file)))
    assert apply_one(target) is Action.CREATED


def test_starttls_with_the_ca_file_works(slapd: SlapdServer, pki: Pki) -> None:
    base = fresh_base(slapd.url)
    settings = settings_for(slapd.url, base, tls_ca_file=str(pki.ca_file), starttls=True)
    pool = ConnectionPool(settings, 1)
    try:
        with pool.session() as session:
            # the session holds ldap3's connection without naming its type
            assert cast(ldap3.Connection, session._conn).tls_started  # the bind went over TLS
            assert session.read(base, ["1.1"]) is not None
    finally:
        pool.close()


@pytest.mark.parametrize("trust", ["other CA", "system CAs"])
def test_an_untrusted_certificate_is_refused(slapd: SlapdServer, pki: Pki, trust: str) -> None:
    """ldap3's Tls() would accept anything; ours verifies even without a CA file."""
    base = fresh_base(slapd.url)
    ca = str(pki.other_ca_file) if trust == "other CA" else ""
    for url, starttls in ((slapd.ldaps_url, False), (slapd.url, True)):
        target = LdapTarget(settings_for(url, base, tls_ca_file=ca, starttls=starttls))
        with pytest.raises(TargetUnavailableError, match=r"(?i)certificate verify failed"):
            apply_one(target)


@pytest.fixture
def misnamed_slapd(tmp_path: Path) -> Iterator[tuple[SlapdServer, Pki]]:
    """A slapd whose certificate, from the trusted CA, names another host."""
    require_slapd()
    wrong = make_pki(tmp_path / "pki", ("directory.invalid",))
    server = SlapdServer(tmp_path / "slapd", pki=wrong)
    server.start()
    try:
        yield server, wrong
    finally:
        server.stop()


def test_a_certificate_for_another_host_is_refused(
    misnamed_slapd: tuple[SlapdServer, Pki],
) -> None:
    server, wrong = misnamed_slapd
    base = fresh_base(server.url)
    target = LdapTarget(settings_for(server.ldaps_url, base, tls_ca_file=str(wrong.ca_file)))
    with pytest.raises(TargetUnavailableError, match=r"(?i)match|hostname"):
        apply_one(target)


def test_failover_to_the_next_url(slapd: SlapdServer, directory_admin: ldap3.Connection) -> None:
    base = fresh_base(slapd.url)
    dead = f"ldap://127.0.0.1:{free_port()}"
    target = LdapTarget(settings_for(f"{dead} {slapd.url}", base))
    assert apply_one(target, "failover") is Action.CREATED
    assert user_entry(directory_admin, base, "failover") is not None


def test_no_server_answering_makes_the_target_unavailable() -> None:
    urls = f"ldap://127.0.0.1:{free_port()} ldap://127.0.0.1:{free_port()}"
    target = LdapTarget(settings_for(urls, "dc=example,dc=org"))
    with pytest.raises(TargetUnavailableError, match="no LDAP server answered") as caught:
        apply_one(target)
    assert "refused" in str(caught.value).lower()


def test_wrong_credentials_stop_the_target_instead_of_dead_lettering(slapd: SlapdServer) -> None:
    target = LdapTarget(settings_for(slapd.url, fresh_base(slapd.url), password="wrong"))
    with pytest.raises(TargetUnavailableError, match="invalidCredentials") as caught:
        apply_one(target)
    assert isinstance(caught.value.__cause__, LdapResultError)
    assert "wrong" not in str(caught.value)  # the password is never part of a reason


def test_insufficient_access_is_permanent_with_the_reason(
    slapd: SlapdServer, directory_admin: ldap3.Connection
) -> None:
    """A bind DN that may read but not write (slapd's default ACL for non-root users)."""
    base = fresh_base(slapd.url)
    for ou in ("people", "groups", "disabled"):
        directory_admin.add(f"ou={ou},{base}", ["organizationalUnit"], {"ou": ou})
    reader = f"uid=reader,{base}"
    directory_admin.add(
        reader, ["inetOrgPerson"], {"uid": "reader", "cn": "r", "sn": "r", "userPassword": "pw"}
    )
    target = LdapTarget(settings_for(slapd.url, base, bind_dn=reader, password="pw"))
    with pytest.raises(PermanentTargetError, match="insufficientAccessRights"):
        apply_one(target)


def test_a_dropped_connection_is_replaced_and_the_apply_retried(
    own_slapd: SlapdServer,
) -> None:
    slept: list[float] = []
    base = fresh_base(own_slapd.url)
    target = LdapTarget(settings_for(own_slapd.url, base, connections=1), sleep=slept.append)
    try:
        created = target.apply(identity("steady"), None)
        own_slapd.stop()
        own_slapd.start()  # the pooled connection is now dead
        again = target.apply(identity("steady", title="Lead"), created.anchor)
        assert again.action is Action.UPDATED and again.anchor == created.anchor
        assert len(slept) == 1  # one brief tenacity wait, then the fresh connection worked
    finally:
        target.close()


def test_a_server_that_never_answers_times_out() -> None:
    """A listener that completes the TCP handshake and then says nothing (a hung slapd)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"ldap://127.0.0.1:{silent.getsockname()[1]}"
        settings = settings_for(url, "dc=example,dc=org", timeout=timedelta(milliseconds=200))
        target = LdapTarget(settings)
        with pytest.raises(TargetUnavailableError, match="no LDAP server answered"):
            apply_one(target)
