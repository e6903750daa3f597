"""Property tests: the SQL filter compiler and PATCH agree with independent oracles.

Filters: random users are staged, a random filter runs as SQL on SQLite and PostgreSQL, and
the ids it returns must equal those scim2-models' own evaluator (``ScimFilter.match``)
accepts on the same users as rendered. PATCH: RFC-form operations applied by the engine must
give the resource a straightforward re-implementation of RFC 7644 §3.5.2 computes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from scim2_models import EnterpriseUser, ScimFilter, User
from sqlalchemy import delete

from inbound.database.store import Actor
from inbound.database.tables import attr_values, audit, members, resources
from inbound.filter import parse_filter
from inbound.patch import apply_patch
from inbound.render import render
from inbound.resource import normalise
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime
from tests.support import ENTERPRISE, USER, hostile
from tests.support.scim_client import create_user

WORDS = ["a", "ab", "Ab", "abc", "b", "ba", "x y", "é", "_", "%"]
USER_NAMES = ["a", "Ab", "abc", "b", "ba", "x y", "é", "_", "%"]  # distinct ignoring case
STRING_ATTRS = [
    "userName",
    "title",
    "displayName",
    "nickName",
    "name.givenName",
    "emails.type",
    f"{ENTERPRISE}:department",
]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
Model = User[EnterpriseUser]

word = st.sampled_from(WORDS)
# the oracle validates email syntax, in data and in filter values alike
address = st.sampled_from(["a", "ab", "Ab", "abc", "b", "ba"]).map(lambda w: f"{w}@x.org")
email = st.fixed_dictionaries({"value": address, "type": st.sampled_from(["work", "home"])})
maybe_word = st.one_of(word, word, word, st.none())  # mostly present: filters need values
user_body = st.fixed_dictionaries(
    {
        "schemas": st.just([USER, ENTERPRISE]),
        "title": maybe_word,
        "displayName": maybe_word,
        "nickName": maybe_word,
        "active": st.one_of(st.booleans(), st.none()),
        "name": st.fixed_dictionaries({"givenName": maybe_word}),
        "emails": st.lists(email, max_size=2),
        ENTERPRISE: st.fixed_dictionaries({"department": maybe_word}),
    }
)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _leaf() -> st.SearchStrategy[str]:
    compare = st.builds(
        lambda a, op, w: f"{a} {op} {_quote(w)}",
        st.sampled_from(STRING_ATTRS),
        st.sampled_from(OPS),
        word,
    )
    email_compare = st.builds(
        lambda op, a: f"emails.value {op} {_quote(a)}", st.sampled_from(["eq", "ne"]), address
    )
    present = st.sampled_from([*STRING_ATTRS, "emails", "emails.value"]).map(lambda a: f"{a} pr")
    boolean = st.builds(
        lambda op, b: f"active {op} {str(b).lower()}", st.sampled_from(["eq", "ne"]), st.booleans()
    )
    value_path = st.builds(
        lambda t, joint, a: f'emails[type eq "{t}" {joint} value eq {_quote(a)}]',
        st.sampled_from(["work", "home"]),
        st.sampled_from(["and", "or"]),
        address,
    )
    return st.one_of(compare, email_compare, present, boolean, value_path)


leaf = _leaf()
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        inner.map(lambda a: f"not ({a})"),
    ),
    max_leaves=4,
)
filters = st.one_of(leaf, filters)  # plain comparisons half the time


def _clear(runtime: Runtime) -> None:
    with runtime.database_engine.begin() as conn:
        for table in (attr_values, members, audit, resources):
            conn.execute(delete(table))


@pytest.mark.slow
def test_sql_filters_agree_with_scim2_models(runtime: Runtime) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        users=st.lists(user_body, min_size=2, max_size=7),
        names=st.permutations(USER_NAMES),
        texts=st.lists(filters, min_size=6, max_size=12),
    )
    def check(users: list[dict[str, Any]], names: list[str], texts: list[str]) -> None:
        _clear(runtime)
        rendered = {}
        for body, user_name in zip(users, names, strict=False):
            body = {**copy.deepcopy(body), "userName": user_name}
            stored = runtime.store.create(USER_TYPE, body, Actor("property"))
            rendered[stored.scim_id] = render(
                USER_TYPE,
                scim_id=stored.scim_id,
                data=stored.data,
                created=stored.created_at,
                modified=stored.updated_at,
                generation=stored.generation,
                base_url="http://x",
            )
        models = {i: Model.model_validate(r) for i, r in rendered.items()}
        for text in texts:
            _, page = runtime.store.search(USER_TYPE, parse_filter(text))
            oracle = ScimFilter[Model](text)
            expected = {i for i, model in models.items() if oracle.match(model)}
            assert {s.scim_id for s in page} == expected, text

    check()


# ---- PATCH ---------------------------------------------------------------------------

SIMPLE = ["title", "displayName", "nickName", "userType", "locale"]
simple_op = st.one_of(
    st.builds(
        lambda op, a, w: {"op": op, "path": a, "value": w},
        st.sampled_from(["add", "replace"]),
        st.sampled_from(SIMPLE),
        word,
    ),
    st.builds(lambda a: {"op": "remove", "path": a}, st.sampled_from(SIMPLE)),
    st.builds(
        lambda op, w, t: {
            "op": op,
            "path": "emails",
            "value": [{"value": f"{w}@x.org", "type": t}],
        },
        st.sampled_from(["add", "replace"]),
        word,
        st.sampled_from(["work", "home"]),
    ),
    st.builds(
        lambda t: {"op": "remove", "path": f'emails[type eq "{t}"]'},
        st.sampled_from(["work", "home"]),
    ),
    st.builds(lambda w: {"op": "replace", "path": "name.givenName", "value": w}, word),
)


def _oracle(data: dict[str, Any], operation: dict[str, Any]) -> None:
    """RFC 7644 §3.5.2 for the shapes generated above, written independently of the engine."""
    value: Any  # the operation's JSON, of whatever shape its path takes
    op, path, value = operation["op"], operation["path"], operation.get("value")
    if path in SIMPLE:
        if op == "remove":
            data.pop(path, None)
        else:
            data[path] = value
    elif path == "name.givenName":
        data.setdefault("name", {})["givenName"] = value
    elif path == "emails":
        current = data.get("emails", [])
        if op == "replace":
            current = list(value)
        else:
            for item in value:
                current = [
                    e for e in current if (e["value"], e["type"]) != (item["value"], item["type"])
                ]
                current.append(item)
        data["emails"] = current
    else:  # emails[type eq "t"]
        wanted = path.split('"')[1]
        data["emails"] = [e for e in data.get("emails", []) if e["type"] != wanted]
    if not data.get("emails", True):
        data.pop("emails")


@settings(max_examples=200, deadline=None)
@given(start=user_body, operations=st.lists(simple_op, min_size=1, max_size=6))
def test_patch_agrees_with_an_rfc_oracle(
    start: dict[str, Any], operations: list[dict[str, Any]]
) -> None:
    data, _ = normalise(USER_TYPE, {**start, "userName": "p"})
    expected = copy.deepcopy(data)
    for operation in operations:
        _oracle(expected, operation)
    result = apply_patch(USER_TYPE, data, {"Operations": operations})
    assert result.data == expected
    assert data == normalise(USER_TYPE, {**start, "userName": "p"})[0]  # input untouched


def test_hostile_requests_never_answer_5xx(client: TestClient[Any]) -> None:
    """Deep nesting, long strings, NUL and other controls, huge numbers, in bodies, filters,
    paths and parameters: on SQLite and PostgreSQL alike the answer is a SCIM 2xx or 4xx."""
    user_id = create_user(client, "hostile-target")["id"]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request=hostile.requests(user_id))
    def check(request: hostile.HostileRequest) -> None:
        answer = client.request(
            request.method,
            request.path,
            content=request.body,
            params=request.params,
            headers={"Content-Type": "application/scim+json"},
        )
        assert answer.status_code < 500, (request, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["detail"], answer.text

    check()
