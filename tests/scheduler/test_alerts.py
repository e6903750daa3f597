"""The alert webhook against a loopback receiver and a real database: each alert posted once
when it starts firing and once when it resolves, signed like the token webhook, and a post the
receiver refused is made again at the next tick."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.delivery.alert_webhook import AlertWebhook
from connectors.delivery.webhook import signature
from connectors.outbound.retrying import RequestRetry
from inbound.auth import SecretKind
from scheduler import alerts, entra
from scheduler.alerts import AlertWatch
from scheduler.composition import Runtime, compose
from scheduler.jobs import Jobs
from scheduler.settings import SettingsError, load_settings
from tests.support import FakeClock
from tests.support.loopback import Loopback, Recorded, Reply

SECRET = b"alert-webhook-shared-secret-0123456789"
HOOK = "/hooks/scim-sync"
GRAPH = {
    "tenant_id": "tenant-1",
    "client_id": "client-1",
    "client_secret": "client-secret-1",
    "service_principal_id": "sp-1",
}


@pytest.fixture
def receiver() -> Iterator[Loopback]:
    with Loopback().running() as loopback:
        loopback.route("POST", HOOK, Reply(202))
        yield loopback


def alert_watch(runtime: Runtime, receiver: Loopback, sleeps: list[float]) -> AlertWatch:
    policy = RequestRetry(attempts=2, initial_wait=1, max_wait=2, sleep=sleeps.append)
    webhook = AlertWebhook(
        f"{receiver.url}{HOOK}", SECRET, clock=runtime.services.clock, policy=policy
    )
    return AlertWatch(runtime, webhook)


def posts(receiver: Loopback) -> list[tuple[str, str]]:
    return [(r.json()["alert"], r.json()["status"]) for r in receiver.requests]


def verified(request: Recorded) -> bool:
    expected = signature(SECRET, request.headers["x-scim-sync-timestamp"], request.body)
    return hmac.compare_digest(expected, request.headers["x-scim-sync-signature"])


def test_each_alert_is_posted_once_per_change_of_state(
    runtime: Runtime, receiver: Loopback, clock: FakeClock
) -> None:
    sleeps: list[float] = []
    watch = alert_watch(runtime, receiver, sleeps)
    assert watch.tick() == []  # no live token: pending for its 5 minutes first
    clock.advance(300)
    watch.tick()
    clock.advance(60)
    watch.tick()
    assert posts(receiver) == [("ScimSyncTokenAboutToLapse", "firing")]
    first = receiver.requests[0]
    assert verified(first) and first.headers["content-type"] == "application/json"
    assert first.json()["runbook"] == "docs/operations.md#token-delivery-is-failing"
    assert first.json()["summary"] == "The SCIM token Entra uses expires within 30 minutes"

    runtime.tokens.issue(SecretKind.SCIM, timedelta(hours=10))
    clock.advance(60)
    watch.tick()
    clock.advance(60)
    watch.tick()
    assert posts(receiver) == [
        ("ScimSyncTokenAboutToLapse", "firing"),
        ("ScimSyncTokenAboutToLapse", "resolved"),
    ]
    assert all(verified(r) for r in receiver.requests) and sleeps == []


def test_entra_quarantine_fires_and_resolves_per_target_label(
    runtime: Runtime, receiver: Loopback, clock: FakeClock
) -> None:
    runtime.tokens.issue(SecretKind.SCIM, timedelta(hours=10))
    assert runtime.services.console is not None
    entra = runtime.services.console.entra
    entra.record_job({"job_id": "scim.1", "state": "quarantine"})
    entra.record_logs_problem("not permitted: needs AuditLog.Read.All")
    watch = alert_watch(runtime, receiver, [])
    watch.tick()
    clock.advance(300)
    watch.tick()
    assert posts(receiver) == [("ScimSyncEntraJobQuarantined", "firing")]
    clock.advance(1500)
    watch.tick()
    poll = receiver.requests[-1].json()
    assert (poll["alert"], poll["labels"]) == ("ScimSyncEntraPollFailing", {"part": "logs"})
    assert poll["summary"] == "scim-sync cannot read Entra's logs through Graph"

    entra.record_job({"job_id": "scim.1", "state": "active"})
    clock.advance(60)
    watch.tick()
    assert posts(receiver)[-1] == ("ScimSyncEntraJobQuarantined", "resolved")
    assert len(receiver.requests) == 3


def test_a_refused_post_is_made_again_at_the_next_tick(
    runtime: Runtime, receiver: Loopback, clock: FakeClock
) -> None:
    sleeps: list[float] = []
    receiver.route("POST", HOOK, Reply(503), Reply(503), Reply(204))
    watch = alert_watch(runtime, receiver, sleeps)
    watch.tick()
    clock.advance(300)
    assert watch.tick() == []  # both attempts of this tick were refused
    assert len(receiver.requests) == 2 and len(sleeps) == 1
    clock.advance(60)
    assert [p["status"] for p in watch.tick()] == ["firing"]
    clock.advance(60)
    assert watch.tick() == []
    assert len(receiver.requests) == 3


def test_the_alert_webhook_settings_are_checked() -> None:
    base = {"SCIM_SYNC_ALERT_WEBHOOK": "https://alerts.example.com/hook"}
    with pytest.raises(SettingsError, match="SCIM_SYNC_ALERT_WEBHOOK_SECRET"):
        load_settings(base)
    with pytest.raises(SettingsError, match="alerts would travel in clear text"):
        load_settings(
            {
                "SCIM_SYNC_ALERT_WEBHOOK": "http://alerts.example.com/hook",
                "SCIM_SYNC_ALERT_WEBHOOK_SECRET": SECRET.decode(),
            }
        )
    loaded = load_settings({**base, "SCIM_SYNC_ALERT_WEBHOOK_SECRET": SECRET.decode()})
    assert loaded.alert_webhook == base["SCIM_SYNC_ALERT_WEBHOOK"]


def test_the_worker_schedules_the_entra_watch_and_the_alert_webhook(
    database_url: str, clock: FakeClock, receiver: Loopback
) -> None:
    settings = load_settings(
        {
            "SCIM_SYNC_DATABASE_URL": database_url,
            "SCIM_SYNC_ALERT_WEBHOOK": f"{receiver.url}{HOOK}",
            "SCIM_SYNC_ALERT_WEBHOOK_SECRET": SECRET.decode(),
            **{f"SCIM_SYNC_GRAPH_{k.upper()}": v for k, v in GRAPH.items()},
            "SCIM_SYNC_GRAPH_API_URL": f"{receiver.url}/graph/v1.0",
            "SCIM_SYNC_GRAPH_AUTHORITY_URL": f"{receiver.url}/authority",
        }
    )
    plain = load_settings({"SCIM_SYNC_DATABASE_URL": database_url})
    for chosen, expected in ((settings, {entra.JOB_ID, alerts.JOB_ID}), (plain, set())):
        rt = compose(chosen, clock=clock)
        try:
            jobs = Jobs(rt)
            jobs.register_entra_jobs()  # what start() does, without starting the threads
            scheduled = {job["id"] for job in jobs.describe()}
        finally:
            rt.dispose()
        assert scheduled & {entra.JOB_ID, alerts.JOB_ID} == expected
