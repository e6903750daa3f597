"""``scim-sync identities list`` is complete, or pages explicitly: it used to stop at 1,000
records without a word. On SQLite and PostgreSQL, through the real command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from connectors.identity_store.tables import identities
from scheduler import cli_records
from scheduler.cli import main
from scheduler.composition import Runtime

STORED = 1203


@pytest.fixture
def env(runtime: Runtime, database_url: str) -> dict[str, str]:
    """``STORED`` identities, more than one page of the command and more than the 1,000 it
    used to stop at; user IDs sort as their numbers do."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        {"user_id": f"u{n:05d}", "scim_id": f"id-{n}", "email": f"u{n}@example.com",
         "active": n % 2 == 0, "created_at": now, "updated_at": now}
        for n in range(STORED)
    ]  # fmt: skip
    with runtime.idm_engine.begin() as conn:
        conn.execute(insert(identities), rows)
    return {"SCIM_SYNC_DATABASE_URL": database_url}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, ["identities", "list", *args], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_json_lists_every_identity_in_user_id_order(env: dict[str, str]) -> None:
    listed = json.loads(run(env, "--json"))
    assert [r["user_id"] for r in listed] == [f"u{n:05d}" for n in range(STORED)]
    assert listed[1]["email"] == "u1@example.com" and listed[1]["active"] is False


def test_text_lists_every_identity(env: dict[str, str]) -> None:
    lines = run(env).splitlines()
    assert len(lines) == STORED and lines[-1].startswith(f"u{STORED - 1:05d}\t")


def test_the_walk_reads_a_page_at_a_time(runtime: Runtime, env: dict[str, str]) -> None:
    sizes: list[int] = []
    reader = runtime.identities
    read = reader.list

    def counted(limit: int = 1000, after: str | None = None) -> list[dict[str, Any]]:
        sizes.append(limit)
        return read(limit, after)

    reader.list = counted  # type: ignore[method-assign]
    assert sum(1 for _ in cli_records._walk(reader, None, None)) == STORED
    assert max(sizes) == cli_records.PAGE and len(sizes) == STORED // cli_records.PAGE + 1


def test_a_limited_page_says_where_the_next_one_starts(env: dict[str, str]) -> None:
    first = json.loads(run(env, "--json", "--limit", "700"))
    assert len(first["identities"]) == 700 and first["next_after"] == "u00699"
    second = json.loads(run(env, "--json", "--limit", "700", "--after", first["next_after"]))
    assert second["identities"][0]["user_id"] == "u00700"
    assert len(second["identities"]) == STORED - 700 and second["next_after"] is None

    text = run(env, "--limit", "2", "--after", "u01000").splitlines()
    assert [line.split("\t")[0] for line in text[:2]] == ["u01001", "u01002"]
    assert text[2] == "… more identities: scim-sync identities list --after u01002 --limit 2"
    assert "more identities" not in run(env, "--limit", "5", "--after", "u01197")


def test_an_empty_store_says_so(database_url: str, runtime: Runtime) -> None:
    env = {"SCIM_SYNC_DATABASE_URL": database_url}
    assert run(env) == "no identities\n"
    assert json.loads(run(env, "--json")) == []
    assert json.loads(run(env, "--json", "--limit", "3")) == {"identities": [], "next_after": None}
