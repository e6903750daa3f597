"""``scim-sync mapping check`` and ``mapping preview``, and the refusal at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scheduler.cli import main
from scheduler.composition import Runtime
from tests.support import entra_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BASE = "dc=example,dc=org"

GOOD = f"""
[mapping.value_maps.types]
default = "staff"
values = {{ Contractor = "contractor" }}

[mapping.ldap.user.attributes]
description = "{{{{ user.title }}}} in {{{{ enterprise.department }}}}"
employeeType = "{{{{ user.userType | value_map('types') }}}}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,{BASE}"

[mapping.ldap.group.attributes]
description = "Entra group {{{{ group.displayName }}}}"

[mapping.identity_store.user.attributes]
cost_center = "{{{{ enterprise.costCenter }}}}"
"""

BAD = f"""
[mapping.ldap.user.attributes]
costCentre = "{{{{ enterprise.costCenter }}}}"
description = "{{{{ user.title "

[[mapping.ldap.user.placement]]
dn = "ou=sales,{BASE}"
"""

LDAP = {"SCIM_SYNC_LDAP_URL": "ldap://127.0.0.1:9", "SCIM_SYNC_LDAP_BASE_DN": BASE}


def run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(main, args, env=env)


def mapping_env(tmp_path: Path, text: str, **more: str) -> dict[str, str]:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    return {"SCIM_SYNC_MAPPING_FILE": str(path), **LDAP, **more}


def test_check_lists_every_problem_with_file_table_and_key(tmp_path: Path) -> None:
    env = mapping_env(tmp_path, BAD)
    answered = run(["mapping", "check", "--json", "--offline"], env)
    assert answered.exit_code == 1
    report = json.loads(answered.stdout)
    assert report["ok"] is False and report["ldap_schema"] == "static"
    where = {(p["file"], p["table"], p["key"]) for p in report["problems"]}
    file = env["SCIM_SYNC_MAPPING_FILE"]
    assert where == {
        (file, "mapping.ldap.user.attributes", "costCentre"),
        (file, "mapping.ldap.user.attributes", "description"),
        (file, "mapping.ldap.user.placement[0]", "dn"),
    }
    human = run(["mapping", "check", "--offline"], env)
    assert human.exit_code == 1
    assert (
        f"{file}: [mapping.ldap.user.attributes] costCentre: 'costCentre' is not an attribute"
        in (human.stdout)
    )


def test_check_passes_a_good_mapping_and_says_the_server_schema_was_unreachable(
    tmp_path: Path,
) -> None:
    answered = run(["mapping", "check", "--json"], mapping_env(tmp_path, GOOD))
    assert answered.exit_code == 0, answered.output
    report = json.loads(answered.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["ldap_schema"] == "static"
    assert "could not be read" in report["notes"][0]


def test_the_mapping_may_live_in_the_config_file_but_not_in_both_places(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'ldap_url = "ldap://127.0.0.1:9"\nldap_base_dn = "{BASE}"\n{GOOD}')
    answered = run(["--config", str(config), "mapping", "check", "--offline"], {})
    assert answered.exit_code == 0, answered.output
    assert answered.stdout.startswith(f"mapping ok ({config}")
    both = run(
        ["--config", str(config), "mapping", "check", "--offline"],
        mapping_env(tmp_path, GOOD),
    )
    assert both.exit_code == 1 and "the mapping is given twice" in both.stdout


def test_a_refused_mapping_stops_every_other_command_at_start(tmp_path: Path) -> None:
    answered = run(["config", "show"], mapping_env(tmp_path, BAD))
    assert answered.exit_code == 2
    assert "the mapping is refused" in answered.output
    assert "[mapping.ldap.user.attributes] costCentre" in answered.output


def test_a_toml_error_in_the_mapping_file_is_a_problem_of_that_file(tmp_path: Path) -> None:
    answered = run(["mapping", "check", "--json", "--offline"], mapping_env(tmp_path, "[x\n"))
    assert answered.exit_code == 1
    (problem,) = json.loads(answered.stdout)["problems"]
    assert problem["message"].startswith("TOML:")


def test_without_a_mapping_check_passes(tmp_path: Path) -> None:
    answered = run(["mapping", "check", "--json", "--offline"], {})
    assert answered.exit_code == 0
    assert json.loads(answered.stdout)["notes"] == ["no mapping: the defaults apply"]


def test_preview_shows_what_each_target_would_hold(
    tmp_path: Path, runtime: Runtime, client: Any, database_url: str
) -> None:
    boss = client.post("/scim/v2/Users", json=entra_user("boss")).json()
    body = entra_user(
        "seller",
        userType="Contractor",
        **{
            ENTERPRISE: {
                "department": "Sales",
                "costCenter": "CC-7",
                "manager": {"value": boss["id"]},
            }
        },
    )
    assert client.post("/scim/v2/Users", json=body).status_code == 201
    assert client.post("/scim/v2/Groups", json={"displayName": "Team A"}).status_code == 201
    env = mapping_env(tmp_path, GOOD, SCIM_SYNC_DATABASE_URL=database_url)

    answered = run(["mapping", "preview", "seller", "--json"], env)
    assert answered.exit_code == 0, answered.output
    shown = json.loads(answered.stdout)
    assert shown["kind"] == "user" and shown["name"] == "seller"
    ldap = shown["targets"]["ldap"]
    assert ldap["dn"] == f"uid=seller,ou=sales,ou=people,{BASE}"
    assert ldap["attributes"]["description"] == ["Engineer in Sales"]
    assert ldap["attributes"]["employeeType"] == ["contractor"]
    assert ldap["attributes"]["manager"] == [f"uid=boss,ou=people,{BASE}"]
    store = shown["targets"]["identity_store"]
    assert store["columns"]["user_id"] == "seller"
    assert store["extra"] == {"cost_center": "CC-7"}

    group = json.loads(
        run(["mapping", "preview", "Team A", "--json", "--target", "ldap"], env).stdout
    )
    assert group["kind"] == "group" and list(group["targets"]) == ["ldap"]
    assert group["targets"]["ldap"]["dn"] == f"cn=Team A,ou=groups,{BASE}"
    assert group["targets"]["ldap"]["attributes"]["description"] == ["Entra group Team A"]

    missing = run(["mapping", "preview", "nobody"], env)
    assert missing.exit_code == 1 and "no staged user or group is named 'nobody'" in missing.output
    unknown = run(["mapping", "preview", "seller", "--target", "crm"], env)
    assert unknown.exit_code == 1 and "no target named 'crm'" in unknown.output


def test_preview_reports_a_template_failing_for_that_resource(
    tmp_path: Path, client: Any, database_url: str
) -> None:
    assert client.post("/scim/v2/Users", json=entra_user("plain")).status_code == 201
    failing = '[mapping.ldap.user.attributes]\ncarLicense = "{{ user.nickName.upper() }}"\n'
    env = mapping_env(tmp_path, failing, SCIM_SYNC_DATABASE_URL=database_url)
    answered = run(["mapping", "preview", "plain", "--json"], env)
    assert answered.exit_code == 1
    error = json.loads(answered.stdout)["targets"]["ldap"]["error"]
    assert error.startswith("mapping ldap.user 'carLicense' failed for user 'plain'")


def test_preview_on_active_directory_shows_its_names_as_the_planner_makes_them(
    tmp_path: Path, client: Any, database_url: str
) -> None:
    """A CN is cut to AD's 64 characters with the whole name in ``displayName``, a user gets
    AD's own values, and what only the add settles is said, not guessed."""
    long_name = "Regional Sales and Marketing Operations, Northern Europe and the Baltics"
    assert len(long_name) > 64
    assert client.post("/scim/v2/Groups", json={"displayName": long_name}).status_code == 201
    assert client.post("/scim/v2/Users", json=entra_user("adam")).status_code == 201
    env = {
        **LDAP,
        "SCIM_SYNC_LDAP_URL": "ldaps://127.0.0.1:9",
        "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
        "SCIM_SYNC_DATABASE_URL": database_url,
    }

    answered = run(["mapping", "preview", long_name, "--json", "--target", "ldap"], env)
    assert answered.exit_code == 0, answered.output
    group = json.loads(answered.stdout)["targets"]["ldap"]
    cut = long_name[:64].rstrip()
    escaped = cut.replace(",", "\\,")
    assert group["dn"].lower().startswith(f"cn={escaped},".lower())
    assert group["attributes"]["displayName"] == [long_name]
    assert "sAMAccountName" in group["note"]

    user = json.loads(run(["mapping", "preview", "adam", "--json", "--target", "ldap"], env).stdout)
    ldap = user["targets"]["ldap"]
    assert ldap["attributes"]["userPrincipalName"] == [entra_user("adam")["emails"][0]["value"]]
    assert ldap["attributes"]["userAccountControl"] == ["512"]  # a normal account, enabled
    assert "sAMAccountName 'adam'" in ldap["note"]
