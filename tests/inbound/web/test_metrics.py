"""``/metrics`` parsed with the Prometheus text parser and checked against known traffic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from inbound.auth import SecretKind
from inbound.web.metrics import Metrics, StateCollector
from inbound.web.request_metrics import RequestMetrics
from reconcile.errors import TransientTargetError
from reconcile.model import Desired
from reconcile.ports import Applied
from scheduler.composition import Runtime
from tests.support import FakeClock, entra_user, patch_body
from tests.support.admin import RefusingTarget, add_target

Client = TestClient[Any]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class BusyTarget(RefusingTarget):
    """Always busy: every apply is a transient error, retried later."""

    def __init__(self) -> None:
        super().__init__("busy")

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        raise TransientTargetError("server busy")


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_request_counts_and_latency_by_route_template(
    browser_client: Client, scim_token: str
) -> None:
    auth = {"Authorization": f"Bearer {scim_token}"}
    ids = [
        browser_client.post("/scim/v2/Users", json=entra_user(f"M{n}"), headers=auth).json()["id"]
        for n in range(3)
    ]
    for n in range(2):
        browser_client.get("/scim/v2/Users", params={"filter": f'userName eq "M{n}"'}, headers=auth)
    browser_client.get(f"/scim/v2/Users/{ids[0]}", headers=auth)
    browser_client.get("/scim/v2/Users/no-such-id", headers=auth)
    browser_client.patch(
        f"/scim/v2/Users/{ids[1]}",
        json=patch_body({"op": "Replace", "path": "title", "value": "x"}),
        headers=auth,
    )
    browser_client.get("/scim/v2/Users")  # no token
    browser_client.get("/not/a/route")
    browser_client.request("MADEUP", "/scim/v2/Users", headers=auth)
    samples = scrape(browser_client)
    total = "scim_sync_http_requests_total"
    one = "/scim/v2/Users/{scim_id}"
    assert value(samples, total, route="/scim/v2/Users", method="POST", status="201") == 3
    assert value(samples, total, route="/scim/v2/Users", method="GET", status="200") == 2
    assert value(samples, total, route=one, method="GET", status="200") == 1
    assert value(samples, total, route=one, method="GET", status="404") == 1
    assert value(samples, total, route=one, method="PATCH", status="200") == 1
    assert value(samples, total, route="/scim/v2/Users", method="GET", status="401") == 1
    assert value(samples, total, route="unmatched", method="GET", status="404") == 1
    assert not any("no-such-id" in str(labels) for _, labels in samples)  # no raw paths
    assert value(samples, total, route="/scim/v2/Users", method="OTHER", status="405") == 1
    count = "scim_sync_http_request_duration_seconds_count"
    assert value(samples, count, route="/scim/v2/Users", method="GET") == 3
    assert value(samples, count, route=one, method="GET") == 2
    staged = "scim_sync_staged_changes_total"
    assert value(samples, staged, kind="User", operation="create") == 3
    assert value(samples, staged, kind="User", operation="patch") == 1
    assert sum(v for (name, _), v in samples.items() if name == staged) == 4


def test_state_gauges_follow_staging_and_runs(
    browser_client: Client, runtime: Runtime, scim_token: str, clock: FakeClock
) -> None:
    refusing, busy = RefusingTarget(), BusyTarget()
    add_target(runtime, refusing)
    add_target(runtime, busy)
    auth = {"Authorization": f"Bearer {scim_token}"}
    for n in range(4):
        browser_client.post("/scim/v2/Users", json=entra_user(f"G{n}"), headers=auth)
    clock.advance(30)
    before = scrape(browser_client)
    assert value(before, "scim_sync_pending", target="identity_store") == 4
    assert value(before, "scim_sync_oldest_pending_age_seconds", target="identity_store") == 30
    assert value(before, "scim_sync_target_resources", target="refusing", status="pending") == 4
    assert value(before, "scim_sync_seconds_since_last_entra_request") == 30
    assert value(before, "scim_sync_token_expiry_seconds") == 10 * 3600 - 30
    assert value(before, "scim_sync_scim_enabled") == 1
    assert value(before, "scim_sync_state_up") == 1

    metrics = runtime.services.metrics
    metrics.observe_run(runtime.reconciler.run_once)
    browser_client.get("/scim/v2/Users")  # anonymous: must not reset the dead-man's switch
    clock.advance(60)
    after = scrape(browser_client)
    assert value(after, "scim_sync_pending", target="identity_store") == 0
    assert value(after, "scim_sync_oldest_pending_age_seconds", target="identity_store") == 0
    assert (
        value(after, "scim_sync_target_resources", target="identity_store", status="applied") == 4
    )
    assert value(after, "scim_sync_applied_total", target="identity_store", action="created") == 4
    assert value(after, "scim_sync_dead_letters", target="refusing") == 4
    assert value(after, "scim_sync_dead_lettered_total", target="refusing") == 4
    assert value(after, "scim_sync_retries_total", target="busy") == 4
    assert value(after, "scim_sync_pending", target="busy") == 4
    assert value(after, "scim_sync_reconcile_run_duration_seconds_count") == 1
    assert value(after, "scim_sync_apply_duration_seconds_count", target="identity_store") == 4
    assert value(after, "scim_sync_seconds_since_last_entra_request") == 90


def test_token_expiry_and_silence_without_traffic(
    browser_client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    samples = scrape(browser_client)
    assert value(samples, "scim_sync_token_expiry_seconds") == 0  # no live token at all
    runtime.tokens.issue(SecretKind.SCIM, timedelta(hours=10))
    clock.advance(3600)
    runtime.services.live_settings.set_scim_enabled(False)
    samples = scrape(browser_client)
    assert value(samples, "scim_sync_token_expiry_seconds") == 9 * 3600
    assert value(samples, "scim_sync_seconds_since_last_entra_request") == 3600
    assert value(samples, "scim_sync_scim_enabled") == 0


def test_state_gauges_are_cached_between_close_scrapes(
    browser_client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    runtime.services.metrics.state_cache_seconds = 3600
    scrape(browser_client)
    clock.advance(120)
    cached = scrape(browser_client)
    assert value(cached, "scim_sync_seconds_since_last_entra_request") == 0


class _DownLedger:
    """A ledger whose database is gone (unit test of the collector alone)."""

    def summary(self, target: str, now: object) -> dict[str, object]:
        raise ConnectionError("database unreachable")


def test_a_scrape_still_answers_when_the_database_does_not(runtime: Runtime) -> None:
    metrics = Metrics(state_cache_seconds=0)
    metrics.observe_request("/scim/v2/Users", "GET", 200, 0.002, runtime.services.clock())
    assert runtime.services.console is not None
    metrics.state.source = StateCollector(
        ledger=_DownLedger(),  # type: ignore[arg-type]
        tokens=runtime.tokens,
        audit=runtime.services.console.audit,
        live_settings=runtime.live_settings,
        metrics=metrics,
        target_names=["identity_store"],
        clock=runtime.services.clock,
    )
    text = metrics.render().decode()
    assert "scim_sync_state_up 0.0" in text
    assert (
        'scim_sync_http_requests_total{method="GET",route="/scim/v2/Users",status="200"} 1.0'
        in text
    )
    assert "scim_sync_pending" not in text


def test_request_latencies_fall_into_the_buckets_prometheus_defines() -> None:
    """``le`` buckets are cumulative and inclusive of their bound; the count is every
    observation, also those above the last bound."""
    requests = RequestMetrics((0.01, 0.1, 1))
    for seconds in (0.005, 0.01, 0.05, 0.1, 0.5, 7.0):
        requests.observe("/scim/v2/Users", "GET", 200, seconds, None)
    requests.observe("/scim/v2/Users", "POST", 201, 0.02, ("User", "create"))
    families = {f.name: f for f in requests.collect()}
    get = {
        (s.name, s.labels.get("le")): s.value
        for s in families["scim_sync_http_request_duration_seconds"].samples
        if s.labels["method"] == "GET"
    }
    bucket = "scim_sync_http_request_duration_seconds_bucket"
    assert get[(bucket, "0.01")] == 2
    assert get[(bucket, "0.1")] == 4
    assert get[(bucket, "1.0")] == 5
    assert get[(bucket, "+Inf")] == 6
    assert get[("scim_sync_http_request_duration_seconds_count", None)] == 6
    assert get[("scim_sync_http_request_duration_seconds_sum", None)] == pytest.approx(7.665)
    [staged] = families["scim_sync_staged_changes"].samples
    assert (staged.labels, staged.value) == ({"kind": "User", "operation": "create"}, 1)
    totals = {
        (s.labels["method"], s.labels["status"]): s.value
        for s in families["scim_sync_http_requests"].samples
    }
    assert totals == {("GET", "200"): 6, ("POST", "201"): 1}
