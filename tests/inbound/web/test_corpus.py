"""The project's Entra corpus: every request shape of docs/entra-dialect.md as a JSON fixture with the
expected response, replayed in order over real HTTP against the app under uvicorn.

A fixture step is ``{"request": {method, path, headers?, body? | raw?}, "expect": {status,
content_type?, body?, absent?}, "save"?: {name: field}}``. ``{{name}}`` in a path, header or
body is replaced by a value saved from an earlier response. ``expect.body`` is matched as a
subset (objects may have more keys; lists match element by element), except the string
``"@ids a b …"``, which matches a list whose elements' ``value`` are exactly those ids.
``expect.absent`` lists keys that must not be there (``/`` separates levels).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from scheduler.composition import Runtime
from tests.support.live_app import serve

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))
_SLOT = re.compile(r"\{\{(\w+)\}\}")


def _fill(value: Any, saved: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _SLOT.sub(lambda m: saved[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(v, saved) for v in value]
    if isinstance(value, dict):
        return {_fill(k, saved): _fill(v, saved) for k, v in value.items()}
    return value


def _matches(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, str) and expected.startswith("@ids"):
        ids = sorted(expected.split()[1:])
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert sorted(m["value"] for m in actual) == ids, f"{where}: {actual!r}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: '{key}' missing in {actual!r}"
            _matches(value, actual[key], f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{where}: expected {expected!r}, got {actual!r}"
        )
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _matches(e, a, f"{where}/{i}")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


def _absent(body: Any, path: str) -> None:
    node = body
    parts = path.split("/")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return
    assert not (isinstance(node, dict) and parts[-1] in node), f"'{path}' is present: {body!r}"


@pytest.mark.slow
@pytest.mark.parametrize("fixture", CORPUS, ids=[p.stem for p in CORPUS])
def test_entra_corpus(fixture: Path, runtime: Runtime, scim_token: str) -> None:
    scenario = json.loads(fixture.read_text())
    saved: dict[str, str] = {}
    with serve(runtime) as base, httpx.Client(base_url=f"{base}/scim/v2") as client:
        for number, step in enumerate(scenario["steps"], start=1):
            request = _fill(step["request"], saved)
            headers = {
                "Authorization": f"Bearer {scim_token}",
                "Content-Type": "application/scim+json; charset=utf-8",
                **request.get("headers", {}),
            }
            content = (
                request["raw"].encode()
                if "raw" in request
                else json.dumps(request["body"]).encode()
                if "body" in request
                else None
            )
            response = client.request(
                request["method"], request["path"], headers=headers, content=content
            )
            expect = _fill(step["expect"], saved)
            where = f"{fixture.stem} step {number} ({step.get('note', request['path'])})"
            assert response.status_code == expect["status"], f"{where}: {response.text}"
            if "content_type" in expect:
                assert response.headers["content-type"].startswith(expect["content_type"]), where
            body: Any = response.json() if response.content else None
            if response.status_code >= 400:
                assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], where
                assert body["detail"], where
            if "body" in expect:
                _matches(expect["body"], body, where)
            for path in expect.get("absent", []):
                _absent(body, path)
            for name, field in step.get("save", {}).items():
                saved[name] = body[field]
