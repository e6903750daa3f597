"""The Entra watch against a loopback Graph and a real staging database (SQLite and PostgreSQL):
job health through quarantine and back, the provisioning log paged and read incrementally,
entries joined to staged resources, and every way Graph can fail without touching SCIM answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from connectors.entra.health import EntraReader
from inbound.database.entra_health import NEVER_REACHED_US, EntraHealthStore
from inbound.database.locks import JobLock
from scheduler import entra
from scheduler.composition import Runtime
from scheduler.entra import PERMISSION_RECHECK, EntraWatch
from tests.support import FakeClock, entra_user
from tests.support import fake_graph as graph
from tests.support.loopback import Loopback, Reply

Client = TestClient[Any]


@pytest.fixture
def sleeps() -> list[float]:
    return []


def store_of(runtime: Runtime) -> EntraHealthStore:
    assert runtime.services.console is not None
    return runtime.services.console.entra


def watch(runtime: Runtime, base_url: str, sleeps: list[float]) -> EntraWatch:
    return EntraWatch(
        EntraReader(graph.settings(base_url), policy=graph.policy(sleeps)),
        store_of(runtime),
        clock=runtime.services.clock,
        retention=timedelta(days=30),
    )


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_quarantine_entered_and_left(
    runtime: Runtime, client: Client, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    runtime.services.metrics.state_cache_seconds = 0
    success = clock.now - timedelta(hours=3)
    graph.serve_logs(server, [[]])
    server.route(
        "GET",
        graph.JOB_PATH,
        Reply(200, graph.job("Quarantine", last_success=success, quarantined_since=clock.now)),
        Reply(200, graph.job("Active", last_success=clock.now)),
    )
    poller = watch(runtime, server.url, sleeps)

    assert poller.poll()["problems"] == {}
    state = store_of(runtime).report()
    assert state is not None and state["quarantined"] and state["state"] == "quarantine"
    assert state["quarantine_reason"] == "EncounteredQuarantineException"
    assert state["quarantine_since"] == clock.now.isoformat()
    assert state["steady_state_first_at"] == "2026-11-01T08:00:00+00:00"
    assert state["steady_state_last_at"] is None  # Graph's 0001-01-01 means never
    samples = scrape(client)
    assert samples[("scim_sync_entra_job_quarantined", frozenset())] == 1.0
    assert samples[
        ("scim_sync_entra_last_successful_cycle_timestamp_seconds", frozenset())
    ] == pytest.approx(success.timestamp())

    clock.advance(300)
    poller.poll()
    state = store_of(runtime).report()
    assert state is not None and state["state"] == "active" and not state["quarantined"]
    assert state["quarantine_reason"] is None
    samples = scrape(client)
    assert samples[("scim_sync_entra_job_quarantined", frozenset())] == 0.0
    get = [path for method, path in server.calls() if method == "GET"]
    assert get.count(graph.JOB_PATH) == 2 and sleeps == []


def test_log_is_paged_and_read_incrementally(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    t = clock.now - timedelta(minutes=30)
    first = [graph.entry("e1", t), graph.entry("e2", t + timedelta(seconds=5))]
    second = [graph.entry("e3", t + timedelta(seconds=9), status="failure", error_code="X")]
    graph.serve_logs(server, [first, second])
    poller = watch(runtime, server.url, sleeps)

    assert poller.poll()["entries_added"] == 3
    log_calls = [r for r in server.requests if r.path.startswith(graph.LOGS_PATH)]
    assert [r.query().get("$skiptoken") for r in log_calls] == [None, "1"]
    assert log_calls[0].query()["$filter"] == (
        f"servicePrincipal/id eq '{graph.SP}' and activityDateTime ge "
        f"{(clock.now - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    assert all(r.headers["authorization"] == "Bearer graph-access" for r in log_calls)

    graph.serve_logs(server, [[*second, graph.entry("e4", t + timedelta(seconds=20))]])
    clock.advance(300)
    assert poller.poll()["entries_added"] == 1  # e3 is read again (ge) and kept once
    assert (
        server.requests[-1]
        .query()["$filter"]
        .endswith((t + timedelta(seconds=9)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    )
    assert store_of(runtime).failure_counts() == [("update", "X", 1)]


def test_entries_join_staged_resources_and_flag_what_never_reached_us(
    runtime: Runtime, client: Client, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    created = client.post("/scim/v2/Users", json=entra_user("E1001")).json()
    scim_id = created["id"]
    runtime.reconciler.run_once()
    now = clock.now
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    graph.serve_logs(
        server,
        [
            [
                graph.entry("ok", now + timedelta(seconds=2), action="create", target_id=scim_id),
                graph.entry(
                    "lost",
                    now + timedelta(hours=2),
                    status="failure",
                    target_id=scim_id,
                    error_code="SystemForCrossDomainIdentityManagementServiceUnavailable",
                    reason="Timeout calling https://scim.example.com/scim/v2/Users",
                ),
                graph.entry(
                    "by-external-id",
                    now + timedelta(hours=3),
                    action="create",
                    status="failure",
                    source_id="ext-E1001",
                    error_code="HttpTimeout",
                ),
                graph.entry("someone-else", now, target_id="another-id"),
            ]
        ],
    )
    clock.advance(4 * 3600)
    watch(runtime, server.url, sleeps).poll()

    record = runtime.identity_record("E1001")
    assert record is not None
    entries = {e["id"]: e for e in record["entra"]}
    assert set(entries) == {"ok", "lost", "by-external-id"}
    assert entries["ok"]["our_request"]["operation"] == "create"
    assert entries["ok"]["flag"] is None
    assert entries["lost"]["flag"] == NEVER_REACHED_US
    assert entries["lost"]["our_request"] is None
    assert entries["lost"]["error_code"].endswith("ServiceUnavailable")
    assert entries["by-external-id"]["flag"] == NEVER_REACHED_US
    assert [e["id"] for e in record["entra"]] == ["by-external-id", "lost", "ok"]


def test_permission_denied_is_shown_and_not_retried_in_a_loop(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    server.route("GET", graph.LOGS_PATH, graph.forbidden("AuditLog.Read.All"))
    poller = watch(runtime, server.url, sleeps)

    outcome = poller.poll()
    assert outcome["problems"] == {"logs": "not permitted: needs AuditLog.Read.All"}
    assert outcome["next_poll_at"] == (clock.now + PERMISSION_RECHECK).isoformat()
    state = store_of(runtime).report()
    assert state is not None and state["logs_problem"] == "not permitted: needs AuditLog.Read.All"
    assert state["state"] == "active" and state["job_problem"] is None
    calls = len(server.requests)

    clock.advance(300)
    assert poller.poll()["action"] == "waiting"
    assert len(server.requests) == calls and sleeps == []


def test_graph_down_changes_nothing_for_scim_and_backs_off(
    runtime: Runtime, client: Client, clock: FakeClock, sleeps: list[float]
) -> None:
    with Loopback().running() as gone:
        closed = gone.url  # stopped: the authority and Graph refuse connections
    poller = watch(runtime, closed, sleeps)

    outcome = poller.poll()
    assert set(outcome["problems"]) == {"job", "logs"}
    assert "cannot reach" in outcome["problems"]["job"]
    assert sleeps and len(sleeps) == 4  # two calls, each retried twice
    waited = datetime.fromisoformat(outcome["next_poll_at"]) - clock.now
    assert timedelta(seconds=60) <= waited <= timedelta(seconds=200)
    assert client.post("/scim/v2/Users", json=entra_user("E2002")).status_code == 201
    assert client.get('/scim/v2/Users?filter=userName eq "E2002"').json()["totalResults"] == 1
    state = store_of(runtime).report()
    assert state is not None and state["attempts"] == 1 and "cannot reach" in state["job_problem"]


def test_throttled_with_retry_after(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route(
        "GET",
        graph.JOB_PATH,
        Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "7"}),
        Reply(200, graph.job()),
    )
    server.route(
        "GET",
        graph.LOGS_PATH,
        Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "900"}),
    )
    outcome = watch(runtime, server.url, sleeps).poll()
    assert sleeps == [7.0]  # the short wait was honoured inside the call
    assert store_of(runtime).report()["state"] == "active"  # type: ignore[index]
    assert "asked to retry after 900s" in outcome["problems"]["logs"]
    assert datetime.fromisoformat(outcome["next_poll_at"]) >= clock.now + timedelta(seconds=900)


def test_retention_drops_old_entries(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    graph.serve_logs(server, [[graph.entry("old", clock.now - timedelta(hours=1))]])
    poller = watch(runtime, server.url, sleeps)
    poller.poll()
    assert store_of(runtime).failure_counts() == []
    graph.serve_logs(server, [[]])
    clock.advance(31 * 86400)
    assert poller.poll()["entries_pruned"] == 1


def test_the_scheduled_poll_runs_in_one_process_at_a_time(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job("Paused")))
    graph.serve_logs(server, [[]])
    scheduler = BackgroundScheduler(timezone="UTC")
    lock = JobLock(runtime.database_engine, "worker-a", clock=clock)
    other = JobLock(runtime.database_engine, "worker-b", clock=clock)
    entra.register(
        scheduler,
        watch(runtime, server.url, sleeps),
        lock,
        interval=timedelta(minutes=5),
        first_run=clock.now,
    )
    job = scheduler.get_job(entra.JOB_ID)
    assert job.next_run_time == clock.now
    with other.hold(entra.JOB_ID) as mine:
        assert mine
        job.func()
    assert server.calls() == [] and store_of(runtime).state() is None
    job.func()
    assert store_of(runtime).report()["state"] == "paused"  # type: ignore[index]


def test_a_next_link_to_another_origin_is_not_followed(
    runtime: Runtime, server: Loopback, clock: FakeClock, sleeps: list[float]
) -> None:
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    with Loopback().running() as elsewhere:
        server.route(
            "GET",
            graph.LOGS_PATH,
            Reply(
                200,
                {
                    "value": [graph.entry("e1", clock.now)],
                    "@odata.nextLink": f"http://localhost:{elsewhere.url.rsplit(':', 1)[1]}/x",
                },
            ),
        )
        outcome = watch(runtime, server.url, sleeps).poll()
        assert elsewhere.requests == []  # our Graph token never left for another host
    assert "paged to another origin (localhost)" in outcome["problems"]["logs"]
