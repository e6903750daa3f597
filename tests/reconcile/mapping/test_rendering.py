"""Templates render from the staged resource: context, undefined rules, value maps, several
values, placement."""

from __future__ import annotations

import pytest

from reconcile.errors import PermanentTargetError
from reconcile.mapping import MappingRenderError
from tests.reconcile.mapping.support import group, kind_mapping, one, user


def test_context_holds_core_enterprise_and_extension_attributes() -> None:
    desired = user(
        title="Engineer",
        name={"givenName": "Ada"},
        enterprise={"department": "R&D"},
        **{"urn:example:custom:2.0:User": {"costCenter": "CC-7"}},
    )
    assert one("{{ user.title }} in {{ enterprise.department }}", desired) == ["Engineer in R&D"]
    assert one("{{ user.name.givenName }}", desired) == ["Ada"]
    assert one("{{ user['urn:example:custom:2.0:User'].costCenter }}", desired) == ["CC-7"]


def test_names_are_looked_up_without_case_as_scim_names_are() -> None:
    assert one("{{ user.USERNAME }}/{{ user.Name.GIVENNAME }}", user(name={"givenName": "A"})) == [
        "E1/A"
    ]


def test_an_absent_attribute_renders_empty_and_compares_unequal() -> None:
    desired = user()
    assert one("{{ user.title }}{{ user.name.givenName }}", desired) == []
    assert one("{{ 'same' if user.a == user.b else 'differ' }}", desired) == ["differ"]
    assert one("{{ 'eq' if user.title == '' else 'ne' }}", desired) == ["ne"]
    assert one("{% for r in user.roles %}{{ r }}{% endfor %}x", desired) == ["x"]
    assert one("{{ user.title | default('none') }}", desired) == ["none"]


def test_a_null_renders_empty_not_none() -> None:
    assert one("{{ user.title }}", user(title=None)) == []


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ user.title + 1 }}", "'title' is undefined"),
        ("{{ user.title() }}", "'title' is undefined"),
    ],
)
def test_arithmetic_on_or_calling_an_absent_attribute_fails_that_resource(
    template: str, expected: str
) -> None:
    with pytest.raises(MappingRenderError) as caught:
        one(template, user(userName="E7"))
    error = caught.value
    assert (error.target, error.kind, error.key) == ("ldap", "user", "k")
    assert expected in error.reason
    assert "user 'E7' (id s-1)" in error.reason
    assert error.reason.startswith("mapping ldap.user 'k' failed for")


def test_a_render_error_is_a_permanent_target_error_so_the_resource_is_dead_lettered() -> None:
    assert issubclass(MappingRenderError, PermanentTargetError)


VALUE_MAP = """
[mapping.value_maps.employee_types]
default = "staff"
values = { Contractor = "contractor", Intern = "trainee" }

[mapping.value_maps.plain]
values = { a = "b" }

[mapping.ldap.user.attributes]
employeeType = "{{ user.userType | value_map('employee_types') }}"
kept = "{{ user.userType | value_map('plain') }}"
"""


@pytest.mark.parametrize(
    ("user_type", "employee_type", "kept"),
    [
        ("Contractor", ["contractor"], ["Contractor"]),
        ("contractor", ["contractor"], ["contractor"]),
        ("Employee", ["staff"], ["Employee"]),
        (None, ["staff"], []),
    ],
)
def test_value_maps_fall_back_to_their_default_or_the_value_itself(
    user_type: str | None, employee_type: list[str], kept: list[str]
) -> None:
    mapping = kind_mapping(VALUE_MAP)
    data = {} if user_type is None else {"userType": user_type}
    values = mapping.render(user(**data))
    assert values == {"employeeType": employee_type, "kept": kept}


def test_several_values_from_a_list_or_from_each_item_dropping_empties_and_repeats() -> None:
    mapping = kind_mapping(
        """
[mapping.ldap.user.attributes]
mail = ["{{ user.emails[0].value }}", "{{ user.missing }}", "{{ user.emails[0].value }}"]
businessCategory = { each = "user.roles", value = "role:{{ item.value }}" }
"""
    )
    desired = user(
        emails=[{"value": "a@x", "type": "work"}],
        roles=[{"value": "admin"}, {"value": "admin"}, {"value": "ops"}],
    )
    assert mapping.render(desired) == {
        "mail": ["a@x"],
        "businessCategory": ["role:admin", "role:ops"],
    }
    assert mapping.render(user()) == {"mail": [], "businessCategory": []}
    assert mapping.multi_valued == {"mail", "businessCategory"}


def test_each_must_give_a_list() -> None:
    mapping = kind_mapping(
        '[mapping.ldap.user.attributes]\nx = { each = "user.title", value = "{{ item }}" }\n'
    )
    with pytest.raises(MappingRenderError, match="each must give a list"):
        mapping.render(user(title="Eng"))


def test_an_empty_template_string_means_not_managed() -> None:
    mapping = kind_mapping('[mapping.ldap.user.attributes]\ntitle = ""\nx = "{{ user.title }}"\n')
    assert mapping.keys == ("x",)
    assert mapping.unmanaged == ("title",)


PLACEMENT = """
[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,dc=example,dc=org"

[[mapping.ldap.user.placement]]
when = "user.userType in ['Contractor', 'Vendor']"
dn = "ou=external,ou=people,dc=example,dc=org"

[[mapping.ldap.user.placement]]
when = "enterprise.department"
dn = "ou=staff,ou=people,dc=example,dc=org"
"""


@pytest.mark.parametrize(
    ("data", "container"),
    [
        ({"enterprise": {"department": "Sales"}, "userType": "Contractor"}, "ou=sales"),
        ({"enterprise": {"department": "R&D"}, "userType": "Vendor"}, "ou=external"),
        ({"enterprise": {"department": "R&D"}}, "ou=staff"),
        ({}, None),
    ],
)
def test_placement_first_match_wins_and_none_matching_means_the_default(
    data: dict[str, object], container: str | None
) -> None:
    placed = kind_mapping(PLACEMENT).place(user(**data))
    if container is None:
        assert placed is None
    else:
        assert placed == f"{container},ou=people,dc=example,dc=org"


def test_a_failing_when_names_its_rule() -> None:
    mapping = kind_mapping(
        '[[mapping.ldap.user.placement]]\nwhen = "user.level > 3"\ndn = "ou=a,dc=x"\n'
    )
    with pytest.raises(MappingRenderError, match=r"'placement\[0\]\.when'"):
        mapping.place(user())


def test_group_templates_see_the_group() -> None:
    mapping = kind_mapping(
        '[mapping.ldap.group.attributes]\ndescription = "Team {{ group.displayName }}"\n',
        kind="group",
    )
    assert mapping.render(group()) == {"description": ["Team Sales"]}


def test_templates_do_not_leak_variables_into_each_other() -> None:
    mapping = kind_mapping(
        """
[mapping.ldap.user.attributes]
a = "{% set secret = 'x' %}{{ secret }}"
b = "{{ secret }}"
"""
    )
    assert mapping.render(user()) == {"a": ["x"], "b": []}
