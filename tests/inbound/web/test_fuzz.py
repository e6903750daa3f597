"""schemathesis over the SCIM API's OpenAPI document, against the app under uvicorn:
whatever it generates, the answer is never a 5xx and always in the documented shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from inbound.auth import SecretKind
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.support import FakeClock, hostile
from tests.support.live_app import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One server for the whole module: fuzzing thousands of cases needs no fresh database."""
    folder: Path = tmp_path_factory.mktemp("fuzz")
    runtime = compose(Settings(database_url=f"sqlite:///{folder / 'fuzz.db'}"), clock=FakeClock())
    token = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret
    try:
        with serve(runtime) as base:
            yield base, token
    finally:
        runtime.dispose()


T = TypeVar("T")


def loaded(result: Ok[T] | Err[InvalidSchema]) -> T:
    """An operation the schema cannot describe fails the test, with the schema's own error."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def test_no_server_errors_and_documented_answers(live: tuple[str, str]) -> None:
    base, token = live
    auth = {"Authorization": f"Bearer {token}"}
    document = httpx.get(f"{base}/scim/v2/openapi.json", headers=auth).json()
    api = schemathesis.openapi.from_dict(document)
    checks = [not_a_server_error, content_type_conformance, response_schema_conformance]
    operations = [loaded(result) for result in api.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        # negative cases too: bodies and parameters that violate the document must still get
        # a SCIM error, never a 5xx
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=f"{base}/scim/v2", headers=auth, checks=checks)

        fuzz()


def test_hostile_shapes_over_http_never_answer_5xx(live: tuple[str, str]) -> None:
    """What the OpenAPI document cannot describe: bodies nested 100k deep, NUL and other
    controls, strings past the columns, huge numbers, filters past every cap, sent by a real
    client to the server under uvicorn."""
    base, token = live
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        created = http.post(
            "/scim/v2/Users",
            json={"schemas": [hostile.USER], "userName": "fuzz-target"},
            headers={"Content-Type": "application/scim+json"},
        )
        user_id = created.json()["id"]

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(request=hostile.requests(user_id))
        def fuzz(request: hostile.HostileRequest) -> None:
            answer = http.request(
                request.method,
                request.path,
                content=request.body,
                params=request.params,
                headers={"Content-Type": "application/scim+json"},
            )
            assert answer.status_code < 500, (request, answer.text)
            assert answer.headers["content-type"].startswith("application/scim+json"), request

        fuzz()
