"""Every TOML example in docs/mapping.md compiles, and the worked examples do what the page
says they do."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from reconcile.mapping import compile_mapping
from tests.reconcile.mapping.support import user

PAGE = Path(__file__).resolve().parents[3] / "docs" / "mapping.md"
EXAMPLES = re.findall(r"```toml\n(.*?)```", PAGE.read_text(), re.S)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_compiles(example: str) -> None:
    compile_mapping(tomllib.loads(example)["mapping"], "docs/mapping.md")


def test_the_worked_examples_render_as_described() -> None:
    description, value_map, roles = EXAMPLES[-3], EXAMPLES[-2], EXAMPLES[-1]
    ldap = compile_mapping(tomllib.loads(description)["mapping"], "d").target("ldap")
    assert ldap is not None and ldap.user is not None
    engineer = user(userName="E1001", title="Engineer", enterprise={"department": "R&D"})
    assert ldap.user.render(engineer) == {"description": ["Engineer in R&D (E1001)"]}
    assert ldap.user.render(user(userName="E2", title="Engineer")) == {
        "description": ["Engineer (E2)"]
    }

    mapped = compile_mapping(tomllib.loads(value_map)["mapping"], "d").target("ldap")
    assert mapped is not None and mapped.user is not None
    assert mapped.user.render(user(userType="Guest")) == {"employeeType": ["guest"]}
    assert mapped.user.render(user(userType="Member")) == {"employeeType": ["staff"]}

    compiled = compile_mapping(tomllib.loads(roles)["mapping"], "d")
    person = user(roles=[{"value": "crm", "primary": "True"}, {"value": "erp", "primary": False}])
    ldap_part, store = compiled.target("ldap"), compiled.target("identity_store")
    assert ldap_part is not None and ldap_part.user is not None
    assert store is not None and store.user is not None
    assert ldap_part.user.render(person) == {"businessCategory": ["app-role:crm", "app-role:erp"]}
    assert store.user.render(person) == {"primary_role": ["crm"], "role_values": ["crm", "erp"]}


def test_placement_by_department_example() -> None:
    placement = next(e for e in EXAMPLES if "Helpdesk" in e)
    ldap = compile_mapping(tomllib.loads(placement)["mapping"], "d").target("ldap")
    assert ldap is not None and ldap.user is not None
    assert ldap.user.place(user(enterprise={"department": "Helpdesk"})) == (
        "ou=support,ou=people,dc=example,dc=org"
    )
    assert ldap.user.place(user(enterprise={"department": "R&D"})) is None
