"""In-memory filter evaluation, for PATCH value paths such as ``emails[type eq "work"]``.

Comparison follows the attribute's schema: strings compare case-insensitively unless the
attribute is ``caseExact``; dateTimes compare as instants; booleans only with eq/ne.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inbound.errors import invalid_filter
from inbound.filter import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from inbound.schema import Attribute


def _norm(attr: Attribute, value: Any) -> Any:
    if attr.type == "dateTime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise invalid_filter(f"'{value}' is not a dateTime for '{attr.name}'") from None
    if isinstance(value, str) and not attr.case_exact:
        return value.casefold()
    return value


def filter_operand(attr: Attribute, value: Any) -> Any:
    """A filter's value as the attribute's type reads it. Entra quotes booleans in filters as
    it does in bodies (``roles[primary eq "True"]``, docs/entra-dialect.md, App roles), so a
    boolean attribute takes "true"/"false" in any case as the boolean; anything else is
    returned unchanged for the comparison to judge."""
    if attr.type == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def compare(attr: Attribute, actual: Any, op: str, expected: Any) -> bool:
    """One comparison of RFC 7644 §3.4.2.2; an absent value matches nothing but ``ne``."""
    expected = filter_operand(attr, expected)
    actual = filter_operand(attr, actual)
    if actual is None:
        return op == "ne" and expected is not None
    if expected is None:
        return op == "ne"
    if attr.type == "boolean" and op not in ("eq", "ne"):
        raise invalid_filter(f"'{op}' cannot compare the boolean '{attr.name}'")
    a, e = _norm(attr, actual), _norm(attr, expected)
    if op == "eq":
        return bool(a == e)
    if op == "ne":
        return bool(a != e)
    if op in ("co", "sw", "ew"):
        if not isinstance(a, str) or not isinstance(e, str):
            raise invalid_filter(f"'{op}' needs a string value for '{attr.name}'")
        return {"co": e in a, "sw": a.startswith(e), "ew": a.endswith(e)}[op]
    if type(a) is not type(e) and not (
        isinstance(a, int | float) and isinstance(e, int | float) and not isinstance(e, bool)
    ):
        return False
    try:
        return bool({"gt": a > e, "ge": a >= e, "lt": a < e, "le": a <= e}[op])
    except TypeError:
        return False


def element_matches(parent: Attribute, element: Any, node: Filter) -> bool:
    """Whether one element of a multi-valued complex attribute satisfies a value filter."""
    if isinstance(node, And):
        return element_matches(parent, element, node.left) and element_matches(
            parent, element, node.right
        )
    if isinstance(node, Or):
        return element_matches(parent, element, node.left) or element_matches(
            parent, element, node.right
        )
    if isinstance(node, Not):
        return not element_matches(parent, element, node.inner)
    if isinstance(node, ValuePath):
        raise invalid_filter("a value filter cannot be nested inside another")
    sub = _sub_of(parent, node.path)
    actual = (
        element.get(sub.name)
        if isinstance(element, dict)
        else (element if sub.name == "value" else None)
    )
    if isinstance(node, Present):
        return actual not in (None, "", [])
    assert isinstance(node, Compare)
    return compare(sub, actual, node.op, node.value)


def _sub_of(parent: Attribute, path: AttrPath) -> Attribute:
    if path.urn is not None or path.sub is not None:
        raise invalid_filter(f"'{path}' inside '{parent.name}[…]' must name a sub-attribute")
    sub = parent.sub(path.attr)
    if sub is None:
        raise invalid_filter(f"'{parent.name}' has no sub-attribute '{path.attr}'")
    return sub
