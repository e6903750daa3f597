"""The renewal job on SQLite and PostgreSQL with an injected clock (nothing sleeps for hours):
due time, delivery through real sinks, failures made visible and retried, restarts past the
due time, and one renewal at a time across processes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner

from connectors.delivery.file import FileSink
from connectors.delivery.message import TokenDelivery
from connectors.delivery.webhook import WebhookSink
from connectors.outbound.retrying import RequestRetry
from inbound.auth import Delivery, SecretKind
from inbound.operator import issue_scim_token, status_report
from scheduler import renewal
from scheduler.cli import main
from scheduler.composition import Runtime, compose
from scheduler.renewal import JOB_ID, Renewal
from scheduler.settings import Settings
from tests.support import FakeClock
from tests.support.loopback import Loopback, Reply

HOUR = 3600.0
WEBHOOK_SECRET = "w" * 40

Compose = Callable[..., Runtime]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    return tmp_path / "sink" / "token"


@pytest.fixture
def make_runtime(database_url: str, clock: FakeClock, token_file: Path) -> Iterator[Compose]:
    """Compose a process on the shared database; each call is another process."""
    made: list[Runtime] = []

    def make(sink: str | None = None) -> Runtime:
        settings = Settings(
            database_url=database_url,
            token_sink=sink or f"file:{token_file}",
            token_webhook_secret=WEBHOOK_SECRET,
        )
        rt = compose(settings, public_url="https://scim.example.com", clock=clock)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.dispose()


def live(rt: Runtime, secret: str) -> bool:
    return rt.tokens.verify(secret, SecretKind.SCIM) is not None


def test_renews_at_newest_expiry_less_renew_before_and_the_old_token_stays_valid(
    make_runtime: Compose, clock: FakeClock, token_file: Path
) -> None:
    rt = make_runtime()
    job = Renewal.from_runtime(rt)
    handed = rt.tokens.issue(SecretKind.SCIM, rt.settings.token_ttl)
    assert handed.expires_at is not None
    due = handed.expires_at - timedelta(hours=1)
    assert job.due_at() == due
    assert job.run_once().action == "not due"
    assert job.next_run_at() == clock.now + timedelta(seconds=60)  # re-derived every minute
    clock.advance(9 * HOUR - 30)
    assert job.next_run_at() == due
    assert job.run_once().action == "not due"
    assert not token_file.exists()

    clock.advance(30)
    outcome = job.run_once()
    assert outcome.action == "renewed"
    new_secret = token_file.read_text().strip()
    assert new_secret.startswith("sst_") and rt.tokens.verify(new_secret, SecretKind.SCIM) == (
        outcome.token_id
    )
    assert live(rt, handed.secret)  # overlap: the old one lives until its own expiry
    assert rt.tokens.newest_expiry() == clock.now + timedelta(hours=10)
    assert job.due_at() == clock.now + timedelta(hours=9)
    report = status_report(rt.services)["token_renewal"]
    assert report["state"] == "ok" and report["delivered_token_id"] == outcome.token_id
    assert report["sink"] == f"file:{token_file}"

    clock.advance(HOUR)
    assert not live(rt, handed.secret) and live(rt, new_secret)


def test_without_any_live_token_renewal_is_due_at_once(
    make_runtime: Compose, clock: FakeClock, token_file: Path
) -> None:
    rt = make_runtime()
    assert Renewal.from_runtime(rt).next_run_at() == clock.now
    assert Renewal.from_runtime(rt).run_once().action == "renewed"
    assert live(rt, token_file.read_text().strip())


def test_a_failed_delivery_is_visible_retried_and_never_an_outage(
    make_runtime: Compose, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rt = make_runtime()
    handed = rt.tokens.issue(SecretKind.SCIM, rt.settings.token_ttl)
    clock.advance(9 * HOUR)
    with Loopback().running() as receiver:
        receiver.route(
            "POST",
            "/hook",
            Reply(
                503, {"error": {"code": "Down", "message": "maintenance"}}, {"Retry-After": "300"}
            ),
            Reply(204),
        )
        sink = WebhookSink(
            f"{receiver.url}/hook",
            WEBHOOK_SECRET.encode(),
            policy=RequestRetry(attempts=1, max_retry_after=60, sleep=lambda _s: None),
            clock=clock,
        )
        job = Renewal(
            tokens=rt.tokens, tracker=rt.renewal, lock=rt.job_lock, sink=sink, services=rt.services
        )
        with caplog.at_level(logging.INFO, logger="scheduler.renewal"):
            failed = job.run_once()
        assert failed.action == "failed" and "HTTP 503 Down: maintenance" in (failed.error or "")
        minted = receiver.requests[0].json()["token"]
        assert minted not in (failed.error or "")
        assert live(rt, minted)  # it may have arrived after all; it is not revoked
        assert [t.delivery for t in rt.tokens.list(SecretKind.SCIM)] == [None, "failed"]
        assert rt.tokens.newest_expiry() == handed.expires_at  # still counting down
        report = status_report(rt.services)
        assert report["token_expires_in_seconds"] == HOUR
        assert report["token_renewal"]["state"] == "failing"
        assert report["token_renewal"]["failed_attempts"] == 1
        assert "HTTP 503" in report["token_renewal"]["last_error"]
        (record,) = [r for r in caplog.records if r.getMessage() == "scim token delivery failed"]
        assert record.levelno == logging.WARNING
        assert minted not in json.dumps(record.__dict__, default=str)

        # the sink asked for 300 s: nothing happens before that, then the retry succeeds
        retry_at = clock.now + timedelta(seconds=300)
        assert job.due_at() is not None and job.due_at() >= retry_at  # type: ignore[operator]
        clock.advance(299)
        assert job.run_once().action == "not due"
        clock.advance(1)
        assert job.run_once().action == "renewed"
        assert len(receiver.requests) == 2
    report = status_report(rt.services)["token_renewal"]
    assert report["state"] == "ok" and report["failed_attempts"] == 0
    assert report["last_error"] is None
    assert rt.tokens.newest_expiry() == clock.now + timedelta(hours=10)
    assert live(rt, handed.secret)


def test_a_process_started_after_the_due_time_renews_at_once(
    make_runtime: Compose, clock: FakeClock, token_file: Path
) -> None:
    first = make_runtime()
    assert Renewal.from_runtime(first).run_once().action == "renewed"
    before = token_file.read_text()
    first.dispose()
    clock.advance(9.5 * HOUR)  # the process was down when the renewal fell due
    restarted = make_runtime()
    scheduler = BackgroundScheduler(timezone="UTC")
    job = renewal.register(scheduler, restarted)
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now
    assert job.run_once().action == "renewed"
    assert token_file.read_text() != before
    assert live(restarted, before.strip())  # half an hour left on the previous one


def test_a_token_change_re_derives_the_due_time(make_runtime: Compose, clock: FakeClock) -> None:
    rt = make_runtime()
    scheduler = BackgroundScheduler(timezone="UTC")
    renewal.register(scheduler, rt)
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now  # no token yet
    issued = issue_scim_token(rt.services)
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now + timedelta(seconds=60)
    clock.advance(9 * HOUR - 10)
    rt.services.on_token_change()
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now + timedelta(seconds=10)
    rt.tokens.revoke(issued["id"])
    rt.services.on_token_change()
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now


class GatedSink:
    """The file sink, held open mid-delivery so a second process can try meanwhile."""

    def __init__(self, inner: FileSink) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def deliver(self, delivery: TokenDelivery) -> None:
        self.entered.set()
        assert self.release.wait(timeout=20)
        self.inner.deliver(delivery)


def test_one_renewal_at_a_time_across_processes(make_runtime: Compose, token_file: Path) -> None:
    one, two = make_runtime(), make_runtime()
    gated = GatedSink(FileSink(str(token_file)))
    first = Renewal(
        tokens=one.tokens,
        tracker=one.renewal,
        lock=one.job_lock,
        sink=gated,
        services=one.services,
    )
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.append(first.run_once()))
    worker.start()
    try:
        assert gated.entered.wait(timeout=20)
        assert Renewal.from_runtime(two).run_once().action == "busy"
    finally:
        gated.release.set()
        worker.join(timeout=20)
    assert outcomes[0].action == "renewed"
    assert Renewal.from_runtime(two).run_once().action == "not due"  # the first one renewed
    assert len(two.tokens.list(SecretKind.SCIM)) == 1


def test_a_sqlite_lease_of_a_dead_process_expires(
    make_runtime: Compose, clock: FakeClock, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL releases an advisory lock with its holder's connection")
    dead, alive = make_runtime(), make_runtime()
    holder = dead.job_lock.hold(JOB_ID, renewal.LEASE)
    assert holder.__enter__() is True  # never left: the process died holding the lease
    assert Renewal.from_runtime(alive).run_once().action == "busy"
    clock.advance(5 * 60 + 1)
    assert Renewal.from_runtime(alive).run_once().action == "renewed"


def test_without_a_sink_nothing_is_minted(make_runtime: Compose, clock: FakeClock) -> None:
    rt = make_runtime("none")
    job = Renewal.from_runtime(rt)
    assert job.run_once().action == "no sink"
    assert job.next_run_at() == clock.now + timedelta(seconds=60)
    assert rt.tokens.list(SecretKind.SCIM) == []
    assert status_report(rt.services)["token_renewal"]["state"] == "disabled"


def test_first_start_with_a_sink_leaves_the_first_token_to_the_renewal_job(
    make_runtime: Compose,
) -> None:
    rt = make_runtime()
    lines = renewal.first_start_secrets(rt)
    assert not any("sst_" in line for line in lines)
    assert any("ssa_" in line for line in lines)
    assert rt.tokens.list(SecretKind.SCIM) == []
    plain = make_runtime("none")
    assert any("sst_" in line for line in renewal.first_start_secrets(plain))


def test_cli_token_renew_and_status(database_url: str, token_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"SCIM_SYNC_DATABASE_URL": database_url, "SCIM_SYNC_TOKEN_SINK": f"file:{token_file}"}
    renewed = runner.invoke(main, ["token", "renew", "--json"], env=env)
    assert renewed.exit_code == 0, renewed.output
    body = json.loads(renewed.output)
    assert body["action"] == "renewed" and "sst_" not in renewed.output
    status = json.loads(runner.invoke(main, ["status", "--json"], env=env).output)
    assert status["token_renewal"]["delivered_token_id"] == body["id"]
    human = runner.invoke(main, ["status"], env=env).output
    assert f"token renewal to file:{token_file}" in human
    listed = json.loads(runner.invoke(main, ["token", "list", "--json"], env=env).output)
    assert [t["delivery"] for t in listed] == [Delivery.DELIVERED.value]

    unwritable = {**env, "SCIM_SYNC_TOKEN_SINK": f"file:{token_file}/below-a-file"}
    failed = runner.invoke(main, ["token", "renew"], env=unwritable)
    assert failed.exit_code == 1 and "delivery to file:" in failed.output
    no_sink = runner.invoke(main, ["token", "renew"], env={**env, "SCIM_SYNC_TOKEN_SINK": "none"})
    assert no_sink.exit_code == 2 and "SCIM_SYNC_TOKEN_SINK" in no_sink.output


def test_the_scheduled_job_looks_again_soon_while_another_process_renews(
    make_runtime: Compose, clock: FakeClock
) -> None:
    one, two = make_runtime(), make_runtime()
    scheduler = BackgroundScheduler(timezone="UTC")
    renewal.register(scheduler, two)
    job = scheduler.get_job(JOB_ID)
    with one.job_lock.hold(JOB_ID) as acquired:
        assert acquired
        job.func()
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now + timedelta(seconds=5)
    scheduler.get_job(JOB_ID).func()
    assert two.tokens.newest_expiry() == clock.now + timedelta(hours=10)
    assert scheduler.get_job(JOB_ID).next_run_time == clock.now + timedelta(seconds=60)


def test_repeated_failures_back_off_from_30_seconds(
    make_runtime: Compose, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "occupied").write_text("a file where the sink wants a folder")
    rt = make_runtime(f"file:{tmp_path / 'occupied' / 'token'}")
    job = Renewal.from_runtime(rt)
    waits = []
    for _ in range(3):
        assert job.run_once().action == "failed"
        state = rt.renewal.state()
        assert state.next_attempt_at is not None
        waits.append((state.next_attempt_at - clock.now).total_seconds())
        assert job.run_once().action == "not due"
        clock.now = state.next_attempt_at
    assert 30 <= waits[0] <= 35 and 60 <= waits[1] <= 65 and 120 <= waits[2] <= 125
    assert rt.renewal.state().attempts == 3
    assert "cannot write in" in (rt.renewal.state().last_error or "")
    assert rt.tokens.newest_expiry() is None
    assert [t.delivery for t in rt.tokens.list(SecretKind.SCIM)] == ["failed"] * 3
