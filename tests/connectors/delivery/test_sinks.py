"""The three sinks against real endpoints: a loopback HTTP server for the authority, Graph and a
webhook receiver (asserting the exact requests), and a real file system."""

from __future__ import annotations

import hmac
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.delivery.file import FileSink
from connectors.delivery.graph import GraphSink
from connectors.delivery.message import TokenDelivery
from connectors.delivery.sink import build_sink, describe_sink, sink_problems
from connectors.delivery.webhook import WebhookSink, signature
from connectors.entra.settings import GraphSettings
from connectors.outbound.errors import DeliveryRefusedError, DeliveryUnavailableError
from connectors.outbound.retrying import RequestRetry, retry_after_seconds
from tests.support import FakeClock
from tests.support.loopback import Loopback, Reply

SYNC = "/graph/v1.0/servicePrincipals/sp-1/synchronization"
TOKEN_PATH = "/authority/tenant-1/oauth2/v2.0/token"
DELIVERY = TokenDelivery(
    "sst_new-secret-value",
    "tok123",
    datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
    "https://scim.example.com/scim/v2",
)
CREDENTIALS = [
    {"key": "BaseAddress", "value": "https://scim.example.com/scim/v2"},
    {"key": "SecretToken", "value": "sst_new-secret-value"},
]


@pytest.fixture
def server() -> Iterator[Loopback]:
    with Loopback().running() as loopback:
        yield loopback


@pytest.fixture
def sleeps() -> list[float]:
    return []


def graph_settings(server: Loopback, job_id: str = "") -> GraphSettings:
    return GraphSettings(
        tenant_id="tenant-1",
        client_id="client-1",
        client_secret="client-secret-1",
        service_principal_id="sp-1",
        job_id=job_id,
        authority_url=f"{server.url}/authority",
        api_url=f"{server.url}/graph/v1.0",
    )


def policy(sleeps: list[float], attempts: int = 5) -> RequestRetry:
    return RequestRetry(attempts=attempts, initial_wait=1, max_wait=8, sleep=sleeps.append)


def authority_ok(server: Loopback) -> None:
    server.route(
        "POST",
        TOKEN_PATH,
        Reply(200, {"access_token": "graph-access", "token_type": "Bearer", "expires_in": 3599}),
    )


def test_graph_sends_exactly_token_request_validation_and_secrets(
    server: Loopback, sleeps: list[float]
) -> None:
    authority_ok(server)
    server.route("GET", f"{SYNC}/jobs", Reply(200, {"value": [{"id": "job-1"}]}))
    server.route("POST", f"{SYNC}/jobs/job-1/validateCredentials", Reply(204))
    server.route("PUT", f"{SYNC}/secrets", Reply(204))

    GraphSink(graph_settings(server), policy=policy(sleeps)).deliver(DELIVERY)

    assert server.calls() == [
        ("POST", TOKEN_PATH),
        ("GET", f"{SYNC}/jobs"),
        ("POST", f"{SYNC}/jobs/job-1/validateCredentials"),
        ("PUT", f"{SYNC}/secrets"),
    ]
    token_request, jobs, validate, put = server.requests
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_request.form() == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": "client-secret-1",
        "scope": f"{server.url}/.default",
    }
    for call in (jobs, validate, put):
        assert call.headers["authorization"] == "Bearer graph-access"
    assert validate.json() == {"useSavedCredentials": False, "credentials": CREDENTIALS}
    assert put.json() == {"value": CREDENTIALS}
    assert sleeps == []


def test_graph_with_a_configured_job_skips_the_listing(
    server: Loopback, sleeps: list[float]
) -> None:
    authority_ok(server)
    server.route("POST", f"{SYNC}/jobs/scim.0a1b/validateCredentials", Reply(204))
    server.route("PUT", f"{SYNC}/secrets", Reply(204))
    GraphSink(graph_settings(server, "scim.0a1b"), policy=policy(sleeps)).deliver(DELIVERY)
    assert [path for _m, path in server.calls()] == [
        TOKEN_PATH,
        f"{SYNC}/jobs/scim.0a1b/validateCredentials",
        f"{SYNC}/secrets",
    ]


def test_graph_without_a_job_saves_the_token_unvalidated(
    server: Loopback, sleeps: list[float]
) -> None:
    authority_ok(server)
    server.route("GET", f"{SYNC}/jobs", Reply(200, {"value": []}))
    server.route("PUT", f"{SYNC}/secrets", Reply(204))
    GraphSink(graph_settings(server), policy=policy(sleeps)).deliver(DELIVERY)
    assert server.calls()[-1] == ("PUT", f"{SYNC}/secrets")


def test_graph_with_several_jobs_asks_for_the_job_id(server: Loopback, sleeps: list[float]) -> None:
    authority_ok(server)
    server.route("GET", f"{SYNC}/jobs", Reply(200, {"value": [{"id": "a"}, {"id": "b"}]}))
    with pytest.raises(DeliveryRefusedError, match="SCIM_SYNC_GRAPH_JOB_ID"):
        GraphSink(graph_settings(server), policy=policy(sleeps)).deliver(DELIVERY)
    assert ("PUT", f"{SYNC}/secrets") not in server.calls()


def test_graph_honours_429_retry_after_then_succeeds(server: Loopback, sleeps: list[float]) -> None:
    authority_ok(server)
    server.route("POST", f"{SYNC}/jobs/job-1/validateCredentials", Reply(204))
    server.route(
        "PUT",
        f"{SYNC}/secrets",
        Reply(
            429,
            {"error": {"code": "TooManyRequests", "message": "slow down"}},
            {"Retry-After": "7"},
        ),
        Reply(
            503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, {"Retry-After": "2"}
        ),
        Reply(204),
    )
    GraphSink(graph_settings(server, "job-1"), policy=policy(sleeps)).deliver(DELIVERY)
    assert sleeps == [7.0, 2.0]
    assert server.calls().count(("PUT", f"{SYNC}/secrets")) == 3


def test_graph_retry_after_beyond_the_bound_is_handed_to_the_job(
    server: Loopback, sleeps: list[float]
) -> None:
    authority_ok(server)
    server.route("POST", f"{SYNC}/jobs/job-1/validateCredentials", Reply(204))
    server.route("PUT", f"{SYNC}/secrets", Reply(429, None, {"Retry-After": "3600"}))
    with pytest.raises(DeliveryUnavailableError) as caught:
        GraphSink(graph_settings(server, "job-1"), policy=policy(sleeps)).deliver(DELIVERY)
    assert caught.value.retry_after == 3600
    assert sleeps == [] and server.calls().count(("PUT", f"{SYNC}/secrets")) == 1


def test_graph_server_errors_are_retried_with_backoff_then_given_up(
    server: Loopback, sleeps: list[float]
) -> None:
    authority_ok(server)
    server.route("POST", f"{SYNC}/jobs/job-1/validateCredentials", Reply(204))
    server.route("PUT", f"{SYNC}/secrets", Reply(502))
    with pytest.raises(DeliveryUnavailableError, match=r"HTTP 502.*gave up after 3 attempts"):
        GraphSink(graph_settings(server, "job-1"), policy=policy(sleeps, 3)).deliver(DELIVERY)
    assert len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)


def test_graph_refusals_name_the_cause_and_never_save(
    server: Loopback, sleeps: list[float]
) -> None:
    server.route(
        "POST",
        TOKEN_PATH,
        Reply(
            401,
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret",
            },
        ),
    )
    with pytest.raises(DeliveryRefusedError) as caught:
        GraphSink(graph_settings(server, "job-1"), policy=policy(sleeps)).deliver(DELIVERY)
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "client-secret-1" not in message
    assert server.calls() == [("POST", TOKEN_PATH)] and sleeps == []


def test_a_token_entra_cannot_use_is_never_saved(server: Loopback, sleeps: list[float]) -> None:
    authority_ok(server)
    server.route(
        "POST",
        f"{SYNC}/jobs/job-1/validateCredentials",
        Reply(400, {"error": {"code": "BadRequest", "message": "SCIM endpoint answered 401"}}),
    )
    with pytest.raises(DeliveryRefusedError, match="validateCredentials: HTTP 400 BadRequest"):
        GraphSink(graph_settings(server, "job-1"), policy=policy(sleeps)).deliver(DELIVERY)
    assert ("PUT", f"{SYNC}/secrets") not in server.calls()


def test_an_unreachable_graph_is_transient(sleeps: list[float]) -> None:
    with Loopback().running() as gone:
        settings = graph_settings(gone, "job-1")
    with pytest.raises(DeliveryUnavailableError, match=r"cannot reach http://127\.0\.0\.1"):
        GraphSink(settings, policy=policy(sleeps, 2)).deliver(DELIVERY)
    assert len(sleeps) == 1


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 30 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("soon") is None


def test_webhook_posts_json_signed_with_hmac_sha256(server: Loopback, sleeps: list[float]) -> None:
    server.route("POST", "/hooks/token?code=abc", Reply(200, {"ok": True}))
    clock = FakeClock()
    secret = b"k" * 40
    WebhookSink(
        f"{server.url}/hooks/token?code=abc", secret, policy=policy(sleeps), clock=clock
    ).deliver(DELIVERY)
    (request,) = server.requests
    assert request.headers["content-type"] == "application/json"
    timestamp = request.headers["x-scim-sync-timestamp"]
    assert timestamp == str(int(clock.now.timestamp()))
    expected = (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + request.body, "sha256").hexdigest()
    )
    assert hmac.compare_digest(request.headers["x-scim-sync-signature"], expected)
    assert request.headers["x-scim-sync-signature"] == signature(secret, timestamp, request.body)
    assert request.json() == {
        "token": "sst_new-secret-value",
        "id": "tok123",
        "expires_at": "2026-11-30T22:00:00+00:00",
        "endpoint_url": "https://scim.example.com/scim/v2",
    }


def test_webhook_refusal_is_reported(server: Loopback, sleeps: list[float]) -> None:
    server.route("POST", "/hook", Reply(403, {"error": {"code": "BadSignature", "message": "no"}}))
    sink = WebhookSink(f"{server.url}/hook", b"k" * 40, policy=policy(sleeps), clock=FakeClock())
    with pytest.raises(DeliveryRefusedError, match="webhook: HTTP 403 BadSignature"):
        sink.deliver(DELIVERY)


def test_file_sink_replaces_atomically_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "token"
    sink = FileSink(str(target))
    sink.deliver(DELIVERY)
    assert target.read_text() == "sst_new-secret-value\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    before = target.stat().st_ino
    sink.deliver(TokenDelivery("sst_second", "t2", DELIVERY.expires_at, DELIVERY.endpoint_url))
    assert target.read_text() == "sst_second\n"
    assert target.stat().st_ino != before  # a new file renamed over, not rewritten in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["token"]


def test_file_sink_json_variant(tmp_path: Path) -> None:
    target = tmp_path / "token.json"
    FileSink(str(target)).deliver(DELIVERY)
    assert json.loads(target.read_text()) == DELIVERY.to_json()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_file_sink_path_problems_are_refusals(tmp_path: Path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    with pytest.raises(DeliveryRefusedError, match="cannot write in"):
        FileSink(str(occupied / "token")).deliver(DELIVERY)
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(DeliveryRefusedError, match="cannot replace"):
        FileSink(str(tmp_path / "a-folder")).deliver(DELIVERY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]


def test_delivery_repr_hides_the_token() -> None:
    assert "sst_" not in repr(DELIVERY)


def test_sink_settings_problems_name_the_variable() -> None:
    empty = GraphSettings()
    assert sink_problems("none", empty, "") == []
    problems = sink_problems("graph", empty, "")
    assert "SCIM_SYNC_TOKEN_SINK=graph needs SCIM_SYNC_GRAPH_CLIENT_SECRET" in problems
    assert len(problems) == 4
    assert sink_problems("webhook:https://hooks.example.com/x", empty, "s" * 32) == []
    assert any(
        "SCIM_SYNC_TOKEN_WEBHOOK_SECRET" in p
        for p in sink_problems("webhook:https://hooks.example.com/x", empty, "short")
    )
    assert any(
        "clear text" in p
        for p in sink_problems("webhook:http://hooks.example.com", empty, "s" * 32)
    )
    assert sink_problems("webhook:http://127.0.0.1:9/x", empty, "s" * 32) == []
    assert sink_problems("file:", empty, "") == ["SCIM_SYNC_TOKEN_SINK: file: needs a path"]
    assert "is not none, graph" in sink_problems("ftp:x", empty, "")[0]


def test_describe_sink_hides_query_and_user_info() -> None:
    described = describe_sink(
        "webhook:https://user:pw@hooks.example.com/t?code=secret", GraphSettings()
    )
    assert described == "webhook:https://hooks.example.com/t"
    assert describe_sink("graph", GraphSettings(service_principal_id="sp")) == (
        "graph:servicePrincipals/sp"
    )


def test_build_sink_from_settings(tmp_path: Path) -> None:
    clock = FakeClock()
    assert build_sink("none", GraphSettings(), "", clock=clock) is None
    assert isinstance(build_sink(f"file:{tmp_path}/t", GraphSettings(), "", clock=clock), FileSink)
    assert isinstance(build_sink("graph", GraphSettings(), "", clock=clock), GraphSink)
    assert isinstance(
        build_sink("webhook:https://h.example/x", GraphSettings(), "s" * 32, clock=clock),
        WebhookSink,
    )
