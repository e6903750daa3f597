"""docs/configuration.md is generated from the settings model and must match it exactly."""

from __future__ import annotations

import dataclasses
import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler import config_docs
from scheduler.cli import main
from scheduler.settings import Settings, describe, format_duration, setting_groups
from tests.support.artefacts import DOCS

ADMIN_KEY = "ssa_" + secrets.token_urlsafe(32)


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert committed == config_docs.render_markdown(), (
        "docs/configuration.md is stale: run `scim-sync config docs --output docs/configuration.md`"
    )


def test_every_setting_of_every_group_is_on_the_page() -> None:
    page = config_docs.render_markdown()
    entries = describe()
    assert {group for group, _cls in setting_groups()} == {e["group"] for e in entries}
    for entry in entries:
        assert f"| `{entry['env']}` |" in page
    assert page.count("| **secret** —") == sum(e["secret"] for e in entries)


def test_a_group_added_to_the_model_reaches_the_page() -> None:
    """The generator walks the model; nobody has to register a new group by hand."""

    @dataclasses.dataclass(frozen=True)
    class ExtraSettings:
        """Settings of a new target."""

        colour: str = dataclasses.field(
            default="blue",
            metadata={"doc": "a colour", "env": "SCIM_SYNC_X_COLOUR", "secret": True},
        )

    extended = dataclasses.make_dataclass(
        "ExtendedSettings",
        [("extra", ExtraSettings, dataclasses.field(default_factory=ExtraSettings))],
        bases=(Settings,),
        frozen=True,
    )
    assert dict(setting_groups(extended))["extra"] is ExtraSettings
    page = config_docs.render_markdown(extended)
    assert "## `extra` — Settings of a new target." in page
    assert "| `SCIM_SYNC_X_COLOUR` | `x_colour` | text | `blue` | **secret** — a colour |" in page
    assert page.startswith(config_docs.render_markdown())


def test_config_docs_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "configuration.md"
    result = CliRunner().invoke(main, ["config", "docs", "--output", str(out)], env={})
    assert result.exit_code == 0, result.output
    assert out.read_text() == config_docs.render_markdown()


def test_config_show_masks_secrets_and_url_passwords() -> None:
    env = {
        "SCIM_SYNC_DATABASE_URL": "postgresql://app:hunter2-db@db.internal/scim",
        "SCIM_SYNC_ADMIN_KEY": ADMIN_KEY,
        "SCIM_SYNC_LDAP_PASSWORD": "hunter2-ldap",
        "SCIM_SYNC_TOKEN_TTL": "8h",
    }
    result = CliRunner().invoke(main, ["config", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert "hunter2" not in result.output and ADMIN_KEY not in result.output
    assert shown["SCIM_SYNC_DATABASE_URL"] == "postgresql://app:***@db.internal/scim"
    assert shown["SCIM_SYNC_ADMIN_KEY"] == "***"
    assert shown["SCIM_SYNC_TOKEN_TTL"] == "8h"
    assert set(shown) == {e["env"] for e in describe()}


def test_config_show_leaves_unset_secrets_empty() -> None:
    rows = {r["env"]: r["value"] for r in config_docs.effective(Settings())}
    assert rows["SCIM_SYNC_ADMIN_KEY"] == ""
    assert rows["SCIM_SYNC_RECONCILE_INTERVAL"] == format_duration(timedelta(seconds=60))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("webhook:https://u:tok@hook.example/x", "webhook:https://u:***@hook.example/x"),
    ],
)
def test_url_passwords_are_masked(url: str, shown: str) -> None:
    assert config_docs.mask_url_password(url) == shown


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"SCIM_SYNC_ADMIN_KEY": "ssa_" + "a" * 32}, "SCIM_SYNC_ADMIN_KEY has too little entropy"),
        (
            {"SCIM_SYNC_ADMIN_KEY": "ssa_CHANGE-ME-echo-ssa_-then-openssl-rand-hex-32"},
            "SCIM_SYNC_ADMIN_KEY: replace the placeholder 'CHANGE-ME'",
        ),
        (
            {
                "SCIM_SYNC_LDAP_URL": "ldap://directory.example.org",
                "SCIM_SYNC_LDAP_BASE_DN": "dc=example,dc=org",
                "SCIM_SYNC_LDAP_PASSWORD": "hunter2-ldap",
            },
            "SCIM_SYNC_LDAP_URL: 'ldap://directory.example.org' would send "
            "SCIM_SYNC_LDAP_PASSWORD in clear text",
        ),
    ],
)
def test_config_show_refuses_unsafe_settings(env: dict[str, str], reason: str) -> None:
    """The same check as every start: exit code 2, the variable, the reason, no secret."""
    result = CliRunner().invoke(main, ["config", "show"], env=env)
    assert result.exit_code == 2
    assert reason in result.output
    assert "hunter2" not in result.output and "a" * 32 not in result.output
