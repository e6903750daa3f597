"""No template can reach files, the environment or Python's internals, call anything it was
not given, or make the process work or allocate without bound."""

from __future__ import annotations

import contextlib

import pytest

from reconcile.mapping import MappingInvalidError, MappingRenderError, compile_mapping
from tests.reconcile.mapping.support import one, user

ESCAPES = [
    "{{ user.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ user.title.__class__.__base__.__subclasses__() }}",
    "{{ range.__globals__['os'].environ }}",
    "{{ user.items.__self__.__class__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ config }}{{ request }}{{ environ }}",
    "{{ user.title.mro() }}",
    "{{ user.title.format(user) }}",
    "{{ user.title.__mod__(1) }}",
    "{{ (1).__class__.__bases__ }}",
    "{{ [].__class__ }}",
    "{{ loop }}",
    "{{ open('/etc/passwd').read() }}",
    "{{ __import__('os').system('id') }}",
    "{{ dict(a=1) }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_no_template_reaches_internals_files_or_the_environment(template: str) -> None:
    """Each either renders nothing or fails for the resource; none yields an object's insides."""
    desired = user(title="Eng")
    try:
        values = one(template, desired)
    except MappingRenderError:
        return
    except MappingInvalidError:
        return
    assert values == [], values


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 100000 }}", "repetition longer than"),
        ("{{ [1] * 100000 }}", "repetition longer than"),
        ("{{ 9 ** 99999 }}", "a power larger than"),
        ("{{ (2 ** 2000) * (2 ** 2000) * (2 ** 2000) }}", "a product larger than"),
        ("{{ '%099999d' % 1 }}", "string formatting with %"),
        ("{{ range(10 ** 6) | list }}", r"range\(\) of more than"),
        ("{{ user.title.ljust(10 ** 8) }}", "no attribute 'ljust'"),
        ("{{ user.title.zfill(10 ** 8) }}", "no attribute 'zfill'"),
        ("{{ user.title.replace('E', 'E' * 60000) }}", "no attribute 'replace'"),
        (
            "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
            "output longer than 65536 characters",
        ),
    ],
)
def test_growth_is_bounded_and_fails_that_resource(template: str, message: str) -> None:
    with pytest.raises(MappingRenderError, match=message):
        one(template, user(title="Eng"))


def test_constant_powers_are_not_folded_when_compiling() -> None:
    """Jinja folds constant expressions at compile time; an intercepted operator is not,
    so a huge constant power cannot hang the start."""
    with pytest.raises(MappingRenderError, match="a power larger than"):
        one("{{ 7 ** 999999999 }}")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{% macro %} is not allowed"),
        ("{% include '/etc/passwd' %}", "{% include %} is not allowed"),
        ("{% import 'x' as x %}", "{% import %} is not allowed"),
        ("{% from 'x' import y %}", "{% from … import %} is not allowed"),
        ("{% extends 'x' %}", "{% extends %} is not allowed"),
        ("{% block b %}{% endblock %}", "{% block %} is not allowed"),
        ("{% call f() %}{% endcall %}", "{% call %} is not allowed"),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
            "loops cannot be nested",
        ),
        (
            "{% for a in range(9) %}{% if a %}{% for b in range(9) %}{% endfor %}{% endif %}"
            "{% endfor %}",
            "loops cannot be nested",
        ),
        ("{% for r in user.roles recursive %}{{ loop(r.x) }}{% endfor %}", "recursive loops"),
        ("{{ user.title | center(100000) }}", "No filter named 'center'"),
        ("{{ user.title | format(1) }}", "No filter named 'format'"),
        ("{{ user | attr('__class__') }}", "No filter named 'attr'"),
        ("{{ user.title | replace('a', 'b') }}", "No filter named 'replace'"),
    ],
)
def test_constructs_that_could_escape_or_run_away_are_refused_at_start(
    template: str, message: str
) -> None:
    with pytest.raises(MappingInvalidError) as caught:
        compile_mapping({"ldap": {"user": {"attributes": {"k": template}}}}, "m.toml")
    problems = caught.value.problems
    assert any(message in p.message for p in problems), problems
    assert {(p.file, p.table, p.key) for p in problems} == {
        ("m.toml", "mapping.ldap.user.attributes", "k")
    }


def test_the_resource_cannot_be_changed_by_a_template() -> None:
    desired = user(roles=[{"value": "a"}], name={"givenName": "A"})
    for template in (
        "{{ user.roles.append(1) }}",
        "{{ user.name.update({'givenName': 'B'}) }}",
        "{{ user.name.clear() }}",
        "{{ user.pop('userName') }}",
    ):
        with contextlib.suppress(MappingRenderError):
            one(template, desired)
    assert desired.source["roles"] == [{"value": "a"}]
    assert desired.source["name"] == {"givenName": "A"}
    assert desired.source["userName"] == "E1"
