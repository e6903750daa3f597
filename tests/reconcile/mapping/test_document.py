"""A mapping with a wrong table, key or template is refused whole, every problem named by
file, table and key."""

from __future__ import annotations

import tomllib

import pytest

from reconcile.mapping import MappingInvalidError, compile_mapping


def problems(toml: str) -> set[tuple[str, str, str]]:
    with pytest.raises(MappingInvalidError) as caught:
        compile_mapping(tomllib.loads(toml)["mapping"], "map.toml")
    assert all(p.file == "map.toml" for p in caught.value.problems)
    return {(p.table, p.key, p.message) for p in caught.value.problems}


def test_every_problem_is_listed_not_only_the_first() -> None:
    found = problems(
        """
[mapping.ldpa.user.attributes]
a = "x"

[mapping.ldap.user.atributes]
a = "x"

[mapping.ldap.users.attributes]
a = "x"

[mapping.ldap.group.attributes]
description = "{{ group.displayName "
other = 7

[mapping.value_maps.types]
fallback = "x"
values = { a = 1 }

[[mapping.ldap.user.placement]]
when = "user.x =="
dn = "ou=a,dc=x"

[[mapping.ldap.user.placement]]
dn = ""
where = "x"
"""
    )
    tables = {(table, key) for table, key, _ in found}
    assert tables == {
        ("mapping", "ldpa"),
        ("mapping.ldap.user", "atributes"),
        ("mapping.ldap", "users"),
        ("mapping.ldap.group.attributes", "description"),
        ("mapping.ldap.group.attributes", "other"),
        ("mapping.value_maps.types", "fallback"),
        ("mapping.value_maps.types.values", "a"),
        ("mapping.ldap.user.placement[0]", "when"),
        ("mapping.ldap.user.placement[1]", "dn"),
        ("mapping.ldap.user.placement[1]", "where"),
    }
    messages = dict(((t, k), m) for t, k, m in found)
    assert messages[("mapping", "ldpa")] == (
        "unknown table; expected one of value_maps, identity_store, ldap"
    )
    assert messages[("mapping.ldap.group.attributes", "description")].startswith("template syntax:")
    assert messages[("mapping.ldap.user.placement[0]", "when")].startswith("expression syntax:")
    assert messages[("mapping.ldap.group.attributes", "other")] == (
        "must be a template string, a list of them, or {each, value}"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ x | value_map('nope') }}", "no value map named 'nope' (known: types)"),
        (
            "{{ x | value_map(name) }}",
            "value_map takes one argument: the name of a value map, quoted",
        ),
        ("{{ x | value_map }}", "value_map takes one argument: the name of a value map, quoted"),
    ],
)
def test_value_maps_are_named_literally_and_must_exist(template: str, message: str) -> None:
    toml = f'[mapping.value_maps.types]\ndefault = "a"\n[mapping.ldap.user.attributes]\nk = {template!r}\n'
    assert problems(toml) == {("mapping.ldap.user.attributes", "k", message)}


def test_each_needs_an_expression_and_a_value() -> None:
    found = problems('[mapping.ldap.user.attributes]\nk = { each = "user.roles" }\n')
    assert found == {
        (
            "mapping.ldap.user.attributes",
            "k",
            "needs both each (an expression) and value (a template)",
        )
    }


def test_a_when_with_text_after_the_expression_is_refused() -> None:
    found = problems('[[mapping.ldap.user.placement]]\nwhen = "a b"\ndn = "ou=a,dc=x"\n')
    ((table, key, message),) = found
    assert (table, key) == ("mapping.ldap.user.placement[0]", "when")
    assert "unexpected 'b'" in message


def test_a_placement_without_when_matches_everything() -> None:
    compiled = compile_mapping(
        tomllib.loads('[[mapping.ldap.group.placement]]\ndn = "ou=all,ou=groups,dc=x"\n')[
            "mapping"
        ],
        "m.toml",
    )
    ldap = compiled.target("ldap")
    assert ldap is not None and ldap.group is not None
    assert ldap.group.placement[0].dn == "ou=all,ou=groups,dc=x"
