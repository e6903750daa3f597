"""Faults while a worker writes into the Samba AD DC: the worker SIGKILLed at random points, and
the DC that stops answering mid-apply and comes back. Either way, once the worker has finished,
every staged user is one account, with the sAMAccountName a single clean create gives (a create
repeated after its answer was lost would otherwise make a second account, or suffix the name),
and the enabled state Entra asked for."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from sqlalchemy import select

from connectors.ldap.active_directory import account_control
from inbound.database.store import Actor
from inbound.database.tables import sync_state
from inbound.schema import GROUP_TYPE, USER_TYPE
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import entra_group, entra_user
from tests.support.ad_helpers import ad_settings, unique
from tests.support.ad_relay import DcRelay
from tests.support.processes import Event, ServiceProcess
from tests.support.samba_dc import SambaDc

pytestmark = pytest.mark.slow
USERS = 60
GROUPS = 4


@pytest.fixture
def staged(tmp_path: Path) -> Iterator[Runtime]:
    runtime = compose(Settings(database_url=f"sqlite:///{tmp_path / 'scim-sync.db'}"))
    try:
        yield runtime
    finally:
        runtime.dispose()


def worker(tmp_path: Path, dc: SambaDc, base: str, **env: str) -> ServiceProcess:
    settings = ad_settings(dc, base)
    variables = {
        "SCIM_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'scim-sync.db'}",
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "SCIM_SYNC_LDAP_URL": settings.url,
        "SCIM_SYNC_LDAP_BIND_DN": settings.bind_dn,
        "SCIM_SYNC_LDAP_PASSWORD": settings.password,
        "SCIM_SYNC_LDAP_BASE_DN": settings.base_dn,
        "SCIM_SYNC_LDAP_TLS_CA_FILE": settings.tls_ca_file,
        "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
        "SCIM_SYNC_LDAP_DISABLE": "attribute",
        **env,
    }
    return ServiceProcess(["worker"], cwd=tmp_path, env=variables)


def after_applies(limit: int, target: str = "ldap") -> Callable[[Event], bool]:
    seen = {"applied": 0}

    def predicate(event: Event) -> bool:
        if event.get("event") == "resource applied" and event.get("target") == target:
            seen["applied"] += 1
        return seen["applied"] >= limit or event.get("event") == "reconcile finished"

    return predicate


def stage_users(runtime: Runtime, prefix: str) -> list[str]:
    actor = Actor("fault-test")
    return [
        runtime.store.create(
            USER_TYPE, entra_user(f"{prefix}{i:03d}", active=i % 7 != 0), actor
        ).scim_id
        for i in range(USERS)
    ]


def accounts(conn: ldap3.Connection, base: str, prefix: str) -> list[dict[str, Any]]:
    _, _, response, _ = conn.search(
        base,
        f"(&(objectClass=user)(uid={prefix}*))",
        ldap3.SUBTREE,
        attributes=["uid", "sAMAccountName", "userAccountControl"],
        paged_size=500,
    )
    return [
        {"dn": e["dn"], **e["raw_attributes"]} for e in response if e["type"] == "searchResEntry"
    ]


def assert_one_clean_account_each(accounts: list[dict[str, Any]], prefix: str) -> None:
    uids = sorted(a["uid"][0].decode() for a in accounts)
    assert uids == [f"{prefix}{i:03d}" for i in range(USERS)]  # none lost, none twice
    for a in accounts:
        uid = a["uid"][0].decode()
        assert a["sAMAccountName"] == [uid.encode()]  # created once: no suffixed second try
        enabled = account_control.is_enabled(account_control.parse(a["userAccountControl"][0]))
        assert enabled == (int(uid[-3:]) % 7 != 0)


def test_sigkill_mid_apply_leaves_one_clean_account_per_user(
    staged: Runtime, tmp_path: Path, samba_dc: SambaDc, ad_ou: str, ad_admin: ldap3.Connection
) -> None:
    prefix = unique("k")
    stage_users(staged, prefix)
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
    assert_one_clean_account_each(accounts(ad_admin, ad_ou, prefix), prefix)


def ledger(runtime: Runtime) -> dict[str, tuple[str, int, int]]:
    """scim_id → (status, observed, desired generation) of every resource on the AD target."""
    with runtime.database_engine.connect() as conn:
        rows = conn.execute(
            select(
                sync_state.c.scim_id,
                sync_state.c.status,
                sync_state.c.observed_generation,
                sync_state.c.desired_generation,
            ).where(sync_state.c.target == "ldap")
        ).all()
    return {r.scim_id: (r.status, r.observed_generation, r.desired_generation) for r in rows}


def behind(runtime: Runtime) -> int:
    return sum(1 for _, observed, desired in ledger(runtime).values() if observed < desired)


def next_event(service: ServiceProcess, wanted: Callable[[Event], bool]) -> Callable[[], Event]:
    """Wait (when called) for a matching event logged after those seen so far."""
    skip = sum(1 for e in service.seen if wanted(e))
    count = [0]

    def match(event: Event) -> bool:
        if wanted(event):
            count[0] += 1
            return count[0] > skip
        return False

    return lambda: service.wait_for(match, timeout=120)


def is_event(name: str) -> Callable[[Event], bool]:
    return lambda e: e.get("event") == name and e.get("target", "ldap") == "ldap"


def refused(event: Event) -> bool:
    """The target found unavailable because nothing listened: the DC was gone (connections
    that were open when it went are reset instead)."""
    return is_event("target unavailable")(event) and "refused" in event.get("reason", "")


def test_the_dc_stopping_mid_apply_and_coming_back_converges_exactly(
    staged: Runtime, tmp_path: Path, samba_dc: SambaDc, ad_ou: str, ad_admin: ldap3.Connection
) -> None:
    """The DC freezes, then goes away, then comes back, while a worker creates users and groups.

    The outage is played by a loopback relay between the worker and the DC
    (:mod:`tests.support.ad_relay`), not by stopping Samba: the DC is shared with other test
    processes, from this run and from other checkouts, which would fail or stall with it. To
    the worker the relay is the DC: frozen, its writes in flight may be done with their answers
    held back, and every read or TLS handshake times out; cut, every connection is reset.
    """
    prefix = unique("o")
    users = stage_users(staged, prefix)
    actor = Actor("fault-test")
    members = {
        f"Team {prefix} {g}": [users[i] for i in range(g, USERS, GROUPS)] for g in range(GROUPS)
    }
    for name, ids in members.items():
        body = {**entra_group(name), "members": [{"value": scim_id} for scim_id in ids]}
        staged.store.create(GROUP_TYPE, body, actor)
    relay = DcRelay(("127.0.0.1", 636))
    service = worker(
        tmp_path,
        samba_dc,
        ad_ou,
        SCIM_SYNC_LDAP_URL=relay.ldaps_url,
        SCIM_SYNC_LDAP_TIMEOUT="2s",  # a frozen DC shows as timeouts: keep them short
    )
    try:
        service.wait_for(after_applies(USERS * 2 // 3), timeout=120)
        assert behind(staged) > 0, "the worker finished before the DC could stop"
        frozen_out = next_event(service, is_event("target unavailable"))
        relay.freeze()
        frozen_out()  # timed out: on a write in flight, or on the next TLS handshake
        relay.cut()
        service.wait_for(refused, timeout=120)  # came back while the DC was away
        assert behind(staged) > 0
        relay.restore()
        for _ in range(20):  # each run takes what is due; retries fall due seconds later
            if not behind(staged):
                break
            next_event(service, is_event("reconcile finished"))()
    finally:
        service.stop()
        relay.close()

    states = ledger(staged)
    assert len(states) == USERS + GROUPS
    assert {status for status, _, _ in states.values()} == {"applied"}  # no dead letters
    assert all(observed == desired for _, observed, desired in states.values())
    found = accounts(ad_admin, ad_ou, prefix)
    assert_one_clean_account_each(found, prefix)
    dn_of = {a["uid"][0].decode(): a["dn"].casefold() for a in found}
    uid_of = {scim_id: f"{prefix}{i:03d}" for i, scim_id in enumerate(users)}
    _, _, response, _ = ad_admin.search(
        ad_ou,
        f"(&(objectClass=group)(cn=Team {prefix}*))",
        ldap3.SUBTREE,
        attributes=["cn", "sAMAccountName", "member"],
    )
    groups = {
        e["raw_attributes"]["cn"][0].decode(): e["raw_attributes"]
        for e in response
        if e["type"] == "searchResEntry"
    }
    assert sorted(groups) == sorted(members)  # each group once
    for name, ids in members.items():
        held = groups[name]
        assert held["sAMAccountName"] == [name.encode()]  # not suffixed by a second create
        wanted = sorted(dn_of[uid_of[scim_id]] for scim_id in ids)
        assert sorted(m.decode().casefold() for m in held.get("member", [])) == wanted
