"""A worker SIGKILLed at random points while it writes into the Samba AD DC: when a survivor has
finished, every staged user is one account, with the sAMAccountName a single clean create gives
(a create repeated after a kill between the add and the ledger's record would otherwise make a
second account, or suffix the name), and the enabled state Entra asked for."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import ldap3
import pytest

from connectors.ldap.active_directory import account_control
from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import entra_user
from tests.support.ad_helpers import ad_settings, unique
from tests.support.processes import Event, ServiceProcess
from tests.support.samba_dc import SambaDc

pytestmark = pytest.mark.slow
USERS = 60


@pytest.fixture
def staged(tmp_path: Path) -> Iterator[Runtime]:
    runtime = compose(Settings(database_url=f"sqlite:///{tmp_path / 'scim-sync.db'}"))
    try:
        yield runtime
    finally:
        runtime.dispose()


def worker(tmp_path: Path, dc: SambaDc, base: str) -> ServiceProcess:
    settings = ad_settings(dc, base)
    env = {
        "SCIM_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'scim-sync.db'}",
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "SCIM_SYNC_LDAP_URL": settings.url,
        "SCIM_SYNC_LDAP_BIND_DN": settings.bind_dn,
        "SCIM_SYNC_LDAP_PASSWORD": settings.password,
        "SCIM_SYNC_LDAP_BASE_DN": settings.base_dn,
        "SCIM_SYNC_LDAP_TLS_CA_FILE": settings.tls_ca_file,
        "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
        "SCIM_SYNC_LDAP_DISABLE": "attribute",
    }
    return ServiceProcess(["worker"], cwd=tmp_path, env=env)


def after_applies(limit: int, target: str = "ldap") -> Callable[[Event], bool]:
    seen = {"applied": 0}

    def predicate(event: Event) -> bool:
        if event.get("event") == "resource applied" and event.get("target") == target:
            seen["applied"] += 1
        return seen["applied"] >= limit or event.get("event") == "reconcile finished"

    return predicate


def test_sigkill_mid_apply_leaves_one_clean_account_per_user(
    staged: Runtime, tmp_path: Path, samba_dc: SambaDc, ad_ou: str, ad_admin: ldap3.Connection
) -> None:
    prefix = unique("k")
    actor = Actor("fault-test")
    for i in range(USERS):
        body = entra_user(f"{prefix}{i:03d}", active=i % 7 != 0)
        staged.store.create(USER_TYPE, body, actor)
    rng = random.Random(20261207)
    for _ in range(3):
        victim = worker(tmp_path, samba_dc, ad_ou)
        victim.wait_for(after_applies(rng.randint(1, USERS // 6)), timeout=120)
        victim.kill()
    survivor = worker(tmp_path, samba_dc, ad_ou)
    try:
        survivor.wait_for(lambda e: e.get("event") == "reconcile finished", timeout=300)
    finally:
        survivor.stop()
    _, _, response, _ = ad_admin.search(
        ad_ou,
        f"(&(objectClass=user)(uid={prefix}*))",
        ldap3.SUBTREE,
        attributes=["uid", "sAMAccountName", "userAccountControl"],
        paged_size=500,
    )
    accounts = [e["raw_attributes"] for e in response if e["type"] == "searchResEntry"]
    uids = sorted(a["uid"][0].decode() for a in accounts)
    assert uids == [f"{prefix}{i:03d}" for i in range(USERS)]  # none lost, none twice
    for a in accounts:
        uid = a["uid"][0].decode()
        assert a["sAMAccountName"] == [uid.encode()]  # created once: no suffixed second try
        enabled = account_control.is_enabled(account_control.parse(a["userAccountControl"][0]))
        assert enabled == (int(uid[-3:]) % 7 != 0)
