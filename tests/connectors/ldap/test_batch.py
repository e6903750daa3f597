"""Writes sent ahead with their batch (``prepare``), then each apply judged as it would be alone.

The batch's writes go out from a thread of their own; whether one is answered before or after
its apply starts waiting for it does not change any outcome checked here."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import ldap3
import pytest

from connectors.ldap import batch
from connectors.ldap.batch import FIRST_CHUNK, READ_CHUNK, Users, chunked
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.session import Session, check
from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from connectors.ldap.wire import Done, Request, Result
from reconcile.errors import PermanentTargetError
from reconcile.model import DesiredIdentity
from reconcile.ports import Action, Applied
from tests.support.directory import Sent, entries, identity, settings_for, user_entry
from tests.support.slapd import SlapdServer


def run(target: LdapTarget, work: list[tuple[DesiredIdentity, str | None]]) -> list[Applied]:
    """What the run loop does with one phase: prepare, apply each, forget."""
    target.prepare(list(work))
    try:
        return [target.apply(desired, anchor) for desired, anchor in work]
    finally:
        target.prepare([])


def test_writes_go_out_with_the_batch_and_the_applies_send_nothing_more(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = ldap_settings.base_dn
    names = ["b1", "b2", "b3"]
    ldap_target.prepare([(identity("first"), None)])  # containers; not counted below
    ldap_target.prepare([])  # waits for that batch: it is read and written in the background
    sent = Sent(monkeypatch)
    created = run(ldap_target, [(identity(n), None) for n in names])
    assert (sent.batch, sent.others) == (3, 1)  # three adds ahead; the read-ahead search
    for name, applied in zip(names, created, strict=True):
        entry = user_entry(directory_admin, base, name)
        assert entry is not None and applied == Applied(Action.CREATED, entry["entryuuid"][0])

    changed = [
        (identity(n, title="Lead" if n != "b3" else "Engineer"), a.anchor)
        for n, a in zip(names, created, strict=True)
    ]
    sent.batch = sent.others = 0
    updated = run(ldap_target, changed)
    assert [a.action for a in updated] == [Action.UPDATED, Action.UPDATED, Action.UNCHANGED]
    assert [a.anchor for a in updated] == [a.anchor for a in created]
    assert (sent.batch, sent.others) == (2, 1)  # two guarded modifies; the read-ahead
    assert [user_entry(directory_admin, base, n)["title"] for n in names] == [  # type: ignore[index]
        ["Lead"],
        ["Lead"],
        ["Engineer"],
    ]


def test_a_write_refused_in_a_batch_fails_its_apply_as_it_would_alone(
    slapd: SlapdServer, ldap_settings: LdapSettings
) -> None:
    settings = settings_for(slapd.url, ldap_settings.base_dn, attribute_map="title=noSuchType")
    target = LdapTarget(settings)
    try:
        with pytest.raises(PermanentTargetError) as alone:
            target.apply(identity("alone"), None)
        target.prepare([(identity("batched"), None), (identity("fine", title=None), None)])
        with pytest.raises(PermanentTargetError) as batched:
            target.apply(identity("batched"), None)
        assert target.apply(identity("fine", title=None), None).action is Action.CREATED
    finally:
        target.close()
    assert str(batched.value) == str(alone.value).replace("alone", "batched")
    assert "undefinedAttributeType" in str(batched.value)


def test_a_guard_that_fails_in_a_batch_falls_back_to_a_search(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    """Renamed by hand: the read-ahead finds it elsewhere, the guarded modify sent ahead finds
    nothing at the expected DN, and the apply then searches and brings the entry back."""
    base = ldap_settings.base_dn
    (created,) = run(ldap_target, [(identity("moved"), None)])
    assert directory_admin.modify_dn(f"uid=moved,ou=people,{base}", "uid=moved-by-hand")[0]
    (updated,) = run(ldap_target, [(identity("moved", title="Lead"), created.anchor)])
    assert updated == Applied(Action.UPDATED, created.anchor)
    entry = user_entry(directory_admin, base, "moved")
    assert entry is not None and entry["dn"] == f"uid=moved,ou=people,{base}"
    assert entry["title"] == ["Lead"]


def test_a_batch_whose_connection_breaks_is_applied_one_by_one(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writes went out but their results were lost: each apply finds its entry by search
    and anchors it, with no duplicate."""
    original = Session.pipeline

    def breaking(
        session: Session, requests: Sequence[Request], done: Done | None = None
    ) -> list[Result]:
        if threading.current_thread().name != "ldap-batch":
            return original(session, requests, done)  # the read-ahead
        original(session, requests)  # the writes: sent and answered, but nobody is told
        raise ConnectionLostError("lost after sending")

    monkeypatch.setattr(Session, "pipeline", breaking)
    names = ["lost1", "lost2"]
    applied = run(ldap_target, [(identity(n), None) for n in names])
    for name, outcome in zip(names, applied, strict=True):
        found = entries(directory_admin, ldap_settings.base_dn, f"(uid={name})")
        assert len(found) == 1 and outcome.anchor == found[0]["entryuuid"][0]


def test_an_apply_that_must_look_something_up_first_is_not_sent_ahead(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = ldap_settings.base_dn
    run(ldap_target, [(identity("boss"), None)])
    sent = Sent(monkeypatch)
    worker, other = run(
        ldap_target, [(identity("worker", manager_user_id="boss"), None), (identity("peer"), None)]
    )
    assert worker.action is other.action is Action.CREATED
    assert sent.batch == 1  # the peer's add; the worker's manager is looked up first
    entry = user_entry(directory_admin, base, "worker")
    assert entry is not None and entry["manager"] == [f"uid=boss,ou=people,{base}"]


def test_the_first_chunk_is_small_and_the_next_ones_grow_to_the_read_chunk() -> None:
    users = [(identity(f"c{i:03d}"), None) for i in range(200)]
    chunks = chunked(users)
    assert [len(c) for c in chunks] == [FIRST_CHUNK, 20, 40, READ_CHUNK, READ_CHUNK, 30]
    assert [u for chunk in chunks for u in chunk] == users
    assert chunked([]) == []


def test_a_batch_of_several_chunks_is_applied_from_threads_in_any_order(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks are read and written in the background one after the other; an apply of the
    last chunk may come first and waits for its own chunk only."""
    count = 2 * READ_CHUNK + 7
    names = [f"many{i:03d}" for i in range(count)]
    ldap_target.prepare([(identity("first"), None)])  # containers; not counted below
    ldap_target.prepare([])
    sent = Sent(monkeypatch)

    def in_threads(work: list[tuple[DesiredIdentity, str | None]]) -> list[Applied]:
        ldap_target.prepare(work)
        try:
            with ThreadPoolExecutor(8) as pool:
                return list(pool.map(lambda w: ldap_target.apply(*w), work[::-1]))[::-1]
        finally:
            ldap_target.prepare([])

    created = in_threads([(identity(n), None) for n in names])
    assert {a.action for a in created} == {Action.CREATED}
    chunks = len(chunked(cast(Users, names)))  # it cuts by count alone: the names will do
    assert (sent.batch, sent.others) == (count, chunks)  # every add ahead; a search per chunk

    sent.batch = sent.others = 0
    changed = [
        (identity(n, title="Lead" if i % 3 else "Engineer"), a.anchor)
        for i, (n, a) in enumerate(zip(names, created, strict=True))
    ]
    updated = in_threads(changed)
    expected = [Action.UPDATED if i % 3 else Action.UNCHANGED for i in range(count)]
    assert [a.action for a in updated] == expected
    assert [a.anchor for a in updated] == [a.anchor for a in created]
    assert (sent.batch, sent.others) == (expected.count(Action.UPDATED), chunks)
    titles = {
        e["uid"][0]: e["title"]
        for e in entries(directory_admin, ldap_settings.base_dn, "(uid=many*)")
    }
    assert titles == {n: ["Lead" if i % 3 else "Engineer"] for i, n in enumerate(names)}


def test_a_read_ahead_that_fails_leaves_each_apply_to_decide_alone(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Session.pipeline

    def breaking(
        session: Session, requests: Sequence[Request], done: Done | None = None
    ) -> list[Result]:
        if threading.current_thread().name == "ldap-read-ahead":
            raise ConnectionLostError("lost while reading ahead")
        return original(session, requests, done)

    monkeypatch.setattr(Session, "pipeline", breaking)
    sent = Sent(monkeypatch)
    names = ["alone1", "alone2"]
    applied = run(ldap_target, [(identity(n), None) for n in names])
    assert sent.batch == 0  # nothing planned, nothing sent ahead
    for name, outcome in zip(names, applied, strict=True):
        found = entries(directory_admin, ldap_settings.base_dn, f"(uid={name})")
        assert len(found) == 1 and outcome == Applied(Action.CREATED, found[0]["entryuuid"][0])


def test_a_chunk_whose_search_is_refused_is_applied_alone_and_the_others_ahead(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused: list[str] = []

    def refuse_first(operation: str, dn: str, result: Result) -> None:
        if not refused:
            refused.append(dn)
            raise LdapResultError(operation, dn, 11, "administrative limit exceeded")
        check(operation, dn, result)

    ldap_target.prepare([(identity("first"), None)])  # containers; not counted below
    ldap_target.prepare([])
    monkeypatch.setattr(batch, "check", refuse_first)
    sent = Sent(monkeypatch)
    names = [f"ref{i:03d}" for i in range(READ_CHUNK + 1)]
    work: list[tuple[DesiredIdentity, str | None]] = [(identity(n), None) for n in names]
    applied = run(ldap_target, work)
    # slapd may answer the chunks' searches in any order, so the refused one is any chunk: the
    # other chunks' adds went ahead, the refused one's users alone
    sizes = [len(chunk) for chunk in chunked(work)]
    assert len(refused) == 1 and sent.batch in {len(names) - size for size in sizes}
    assert {a.action for a in applied} == {Action.CREATED}
    found = entries(directory_admin, ldap_settings.base_dn, "(uid=ref*)")
    assert sorted(e["uid"][0] for e in found) == names
