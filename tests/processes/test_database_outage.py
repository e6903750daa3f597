"""The staging database goes away under Entra-like traffic, and comes back (issue 13, item 8).

A private PostgreSQL server is stopped (``pg_ctl stop -m fast``) and started again while
``scim-sync serve`` takes creates and PATCHes over HTTP. Every request must be answered 2xx or
503 with ``Retry-After`` and a SCIM error; ``/readyz`` fails during the outage; the log says
once that the database went away and once that it is back, with no traceback; and every
acknowledged write is staged and applied to the Identity Manager store afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scheduler.composition import compose
from scheduler.settings import Settings
from tests.support import entra_user, patch_body
from tests.support.private_postgres import PrivateCluster, private_cluster
from tests.support.processes import ServiceProcess, free_port, issue_token
from tests.support.progress import behind

pytestmark = pytest.mark.slow

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
DEADLINE = 60.0


@dataclass(frozen=True)
class Answer:
    method: str
    status: int
    retry_after: str | None
    body: dict[str, object]
    during_outage: bool


class EntraTraffic(threading.Thread):
    """Creates users and PATCHes their title, one request at a time, as Entra's cycle does.
    Titles count up, so the newest acknowledged one of a user can be told from older ones."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__(daemon=True)
        self._client = client
        self.answers: list[Answer] = []
        self.created: dict[str, str] = {}
        """scim_id → userName of every acknowledged create."""
        self.acked_title: dict[str, int] = {}
        """scim_id → the highest title number an acknowledged PATCH set."""
        self.outage = False
        self.changed = threading.Condition()
        self._halt = threading.Event()

    def run(self) -> None:
        for n in itertools.count(1):
            if self._halt.is_set():
                return
            if self.created and n % 2 == 0:
                ids = list(self.created)
                scim_id = ids[n % len(ids)]
                response = self._client.patch(
                    f"/Users/{scim_id}",
                    json=patch_body({"op": "replace", "path": "title", "value": f"t{n:07d}"}),
                )
                if response.status_code in (200, 204):
                    self.acked_title[scim_id] = n
            else:
                response = self._client.post("/Users", json=entra_user(f"out{n:06d}"))
                if response.status_code == 201:
                    self.created[response.json()["id"]] = f"out{n:06d}"
            body = response.json() if response.content else {}
            answer = Answer(
                response.request.method,
                response.status_code,
                response.headers.get("retry-after"),
                body,
                self.outage,
            )
            with self.changed:
                self.answers.append(answer)
                self.changed.notify_all()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=DEADLINE)

    def wait_for(self, predicate: Callable[[list[Answer]], bool], what: str) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.answers), timeout=DEADLINE):
                raise AssertionError(f"never happened within {DEADLINE}s: {what}")


def ok(answers: list[Answer]) -> int:
    return sum(1 for a in answers if a.status < 300)


def readiness_becomes(client: httpx.Client, status: int) -> None:
    """Ask /readyz until it answers ``status``; bounded, each probe is a real request."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == status:
            return
    raise AssertionError(f"/readyz never answered {status} within {DEADLINE}s")


def staged_behind(url: str) -> int:
    check = compose(Settings(database_url=url), migrate=False)
    try:
        return behind(check.database_engine)
    finally:
        check.dispose()


def test_database_restart_under_traffic_is_a_503_window_and_loses_nothing(
    tmp_path: Path,
) -> None:
    with private_cluster() as cluster:
        run_outage(cluster, tmp_path)


def run_outage(cluster: PrivateCluster, tmp_path: Path) -> None:
    env = {"SCIM_SYNC_DATABASE_URL": cluster.url, "SCIM_SYNC_RECONCILE_INTERVAL": "1s"}
    compose(Settings(database_url=cluster.url)).dispose()  # migrated
    token = issue_token(tmp_path, env)
    port = free_port()
    service = ServiceProcess(["serve", "--port", str(port)], cwd=tmp_path, env=env)
    base = f"http://127.0.0.1:{port}"
    scim = httpx.Client(
        base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    probe = httpx.Client(base_url=base, timeout=30)
    traffic = EntraTraffic(scim)
    try:
        service.wait_listening()
        traffic.start()
        traffic.wait_for(lambda a: ok(a) >= 40, "40 writes acknowledged before the outage")

        cluster.stop()
        traffic.outage = True
        readiness_becomes(probe, 503)
        traffic.wait_for(
            lambda a: sum(1 for x in a if x.during_outage and x.status == 503) >= 20,
            "20 requests refused with 503 during the outage",
        )
        service.wait_for(lambda e: e.get("event") == "staging database unavailable")

        cluster.start()
        readiness_becomes(probe, 200)
        traffic.outage = False
        after = ok(traffic.answers)
        traffic.wait_for(lambda a: ok(a) >= after + 40, "40 writes acknowledged after it")
        traffic.stop()

        deadline = time.monotonic() + 120
        while staged_behind(cluster.url) and time.monotonic() < deadline:
            service.wait_for(another_run(service), timeout=60)
        assert staged_behind(cluster.url) == 0

        check_answers(traffic.answers)
        check_nothing_lost(cluster.url, scim, traffic)
    finally:
        try:
            traffic.stop()
        finally:
            scim.close()
            probe.close()
            service.stop()
    check_log(service)


def another_run(service: ServiceProcess) -> Callable[[dict[str, object]], bool]:
    """True at the first "reconcile finished" after those already seen."""
    before = sum(1 for e in service.seen if e.get("event") == "reconcile finished")
    counted = [0]

    def predicate(event: dict[str, object]) -> bool:
        counted[0] += event.get("event") == "reconcile finished"
        return counted[0] > before

    return predicate


def check_answers(answers: list[Answer]) -> None:
    assert {a.status for a in answers} <= {200, 201, 204, 503}, {a.status for a in answers}
    refused = [a for a in answers if a.status == 503]
    assert refused, "the outage refused nothing"
    for answer in refused:
        assert answer.retry_after is not None and int(answer.retry_after) > 0
        assert answer.body["schemas"] == [ERROR_SCHEMA]
        assert answer.body["status"] == "503"
        assert "database is unavailable" in str(answer.body["detail"])


def check_nothing_lost(url: str, scim: httpx.Client, traffic: EntraTraffic) -> None:
    """Every acknowledged create is staged and in the Identity Manager store, with a title
    no older than the newest acknowledged PATCH (a PATCH whose answer was lost with the
    connection may have landed too)."""
    check = compose(Settings(database_url=url), migrate=False)
    try:
        for scim_id, user_name in traffic.created.items():
            staged = scim.get(f"/Users/{scim_id}")
            assert staged.status_code == 200, user_name
            record = check.identity_record(user_name)
            assert record is not None, f"{user_name} never reached the Identity Manager store"
            assert record["title"] == staged.json()["title"]
            acked = traffic.acked_title.get(scim_id)
            if acked is not None:
                assert int(str(record["title"]).removeprefix("t")) >= acked
    finally:
        check.dispose()


def check_log(service: ServiceProcess) -> None:
    while not service.events.empty():
        service.seen.append(service.events.get_nowait())
    log = service.seen
    events = [str(e.get("event")) for e in log]
    assert events.count("staging database unavailable") == 1, events
    assert events.count("staging database is back") == 1, events
    assert events.index("staging database unavailable") < events.index("staging database is back")
    tracebacks = [e for e in log if "exception" in e or "Traceback" in str(e.get("event"))]
    assert tracebacks == []
