"""SCIM filters compiled to SQL with bound parameters, identical on SQLite and PostgreSQL.

Hot attributes (id, userName, group displayName, externalId, meta dates) use indexed columns of
``scim_resources``; every other attribute goes through the attribute index, and value paths
correlate conditions on the same element of a multi-valued attribute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, exists, false, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement as Col
from sqlalchemy.sql.functions import FunctionElement

from inbound.database.index import comparable, path_key
from inbound.database.tables import attr_values, members, resources
from inbound.errors import ScimError, invalid_filter
from inbound.filter import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from inbound.matching import filter_operand
from inbound.resource import Resolved, resolve
from inbound.schema import Attribute, ResourceType

R = resources.c


def compile_filter(rt: ResourceType, node: Filter) -> ColumnElement[bool]:
    return _Compiler(rt).node(node)


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check_value(attr: Attribute, op: str, value: Any) -> None:
    if value is None:
        if op not in ("eq", "ne"):
            raise invalid_filter(f"null can only be compared with eq or ne ('{attr.name}')")
        return
    if attr.type == "boolean":
        if not isinstance(value, bool) or op not in ("eq", "ne"):
            raise invalid_filter(f"'{attr.name}' is a boolean: compare it with eq/ne true or false")
    elif attr.type in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_filter(f"'{attr.name}' is a number: compare it with a number")
        if op in ("co", "sw", "ew"):
            raise invalid_filter(f"'{op}' does not apply to the number '{attr.name}'")
    elif attr.type == "complex":
        raise invalid_filter(f"'{attr.name}' is complex: compare one of its sub-attributes")
    else:
        if not isinstance(value, str):
            raise invalid_filter(f"'{attr.name}' is a string: compare it with a quoted string")
        if attr.type == "dateTime":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise invalid_filter(f"'{value}' is not a dateTime for '{attr.name}'") from None


class binary_order(FunctionElement[Any]):
    """Text ordered by code point on every database: SQLite's BINARY, PostgreSQL's "C".

    Range comparisons and sorting must not depend on a PostgreSQL server's locale, or the two
    databases would disagree on ``userName gt "a"`` and on ``sortBy``.
    """

    inherit_cache = True
    name = "binary_order"


@compiles(binary_order)
def _binary_default(element: binary_order, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(binary_order, "postgresql")
def _binary_postgresql(element: binary_order, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _ordered(column: Any) -> Any:
    return binary_order(column) if isinstance(column.type, String) else column


def _cmp(column: Col[Any], op: str, value: Any) -> Any:
    if op == "eq":
        return column.__eq__(value)
    if op == "ne":
        return column.__ne__(value)
    if op == "co":
        return column.like(f"%{_like(value)}%", escape="\\")
    if op == "sw":
        return column.like(f"{_like(value)}%", escape="\\")
    if op == "ew":
        return column.like(f"%{_like(value)}", escape="\\")
    column = _ordered(column)
    if op == "gt":
        return column > value
    if op == "ge":
        return column >= value
    if op == "lt":
        return column < value
    return column <= value


class _Compiler:
    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt

    def node(self, node: Filter) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self.node(node.left), self.node(node.right))
        if isinstance(node, Or):
            return or_(self.node(node.left), self.node(node.right))
        if isinstance(node, Not):
            return not_(self.node(node.inner))
        if isinstance(node, ValuePath):
            return self.value_path(node)
        resolved = self.resolve(node.path)
        if isinstance(node, Present):
            return self.present(resolved)
        assert isinstance(node, Compare)
        return self.compare(resolved, node.op, node.value)

    def resolve(self, path: AttrPath) -> Resolved:
        try:
            resolved = resolve(self.rt, path)
        except ScimError as exc:
            raise invalid_filter(exc.detail) from None
        if resolved.attr.type == "complex" and resolved.sub is None and resolved.attr.multi_valued:
            value = resolved.attr.sub("value")
            if value is not None:  # `emails eq "x"` means `emails.value eq "x"`
                return Resolved(resolved.urn, resolved.attr, value)
        return resolved

    def present(self, r: Resolved) -> ColumnElement[bool]:
        name = r.key.lower()
        if name in ("id", "meta", "meta.created", "meta.lastmodified", "meta.resourcetype"):
            return true()
        if self.rt.is_group and r.attr.name == "members":
            return exists().where(members.c.group_id == R.scim_id)
        if name == "externalid":
            return R.external_id.is_not(None)
        if r.attr.type == "complex" and r.sub is None:
            prefix = path_key(r.urn, r.attr.name) + "."
            return exists().where(
                attr_values.c.scim_id == R.scim_id,
                attr_values.c.path.in_([prefix + s.name.casefold() for s in r.attr.sub_attributes]),
            )
        return exists().where(
            attr_values.c.scim_id == R.scim_id,
            attr_values.c.path == path_key(r.urn, r.attr.name, r.sub.name if r.sub else None),
        )

    def compare(self, r: Resolved, op: str, value: Any) -> ColumnElement[bool]:
        attr = r.sub or r.attr
        value = filter_operand(attr, value)
        _check_value(attr, op, value)
        if value is None:
            present = self.present(r)
            return not_(present) if op == "eq" else present
        if op == "ne":  # an absent value is "not equal" too, as in memory
            return not_(self.compare(r, "eq", value))
        column = self.hot_column(r)
        if column is not None and column is not R.name_key:
            # names compare through the attribute index: ``name_key`` also folds width and
            # spacing (the uniqueness rule), filters compare ignoring case only (RFC 7643)
            text, _ = comparable(attr, value)
            operand = datetime.fromisoformat(value) if attr.type == "dateTime" else text
            return and_(column.is_not(None), _cmp(column, op, operand))
        if self.rt.is_group and r.attr.name == "members":
            if r.sub is None or r.sub.name != "value":
                raise invalid_filter("members can be filtered by value only")
            return exists().where(
                members.c.group_id == R.scim_id, _cmp(members.c.member_id, op, value)
            )
        if r.key.lower().startswith("meta."):
            if r.sub is not None and r.sub.name == "resourceType":
                return true() if _cmp_literal(self.rt.name, op, value) else false()
            raise invalid_filter(f"filtering on '{r.key}' is not supported")
        condition = self.value_condition(attr, attr_values, r, op, value)
        return exists().where(attr_values.c.scim_id == R.scim_id, condition)

    def value_condition(
        self, attr: Attribute, table: Any, r: Resolved, op: str, value: Any
    ) -> ColumnElement[bool]:
        text, num = comparable(attr, value)
        column = table.c.num_value if num is not None else table.c.text_value
        operand = num if num is not None else text
        return and_(
            table.c.path == path_key(r.urn, r.attr.name, r.sub.name if r.sub else None),
            _cmp(column, op, operand),
        )

    def hot_column(self, r: Resolved) -> Col[Any] | None:
        key = r.key.lower()
        if key == "id":
            return R.scim_id
        if key == "externalid":
            return R.external_id
        if key == "meta.created":
            return R.created_at
        if key == "meta.lastmodified":
            return R.updated_at
        if (self.rt.is_user and key == "username") or (self.rt.is_group and key == "displayname"):
            return R.name_key
        return None

    def value_path(self, node: ValuePath) -> ColumnElement[bool]:
        outer = self.resolve(AttrPath(node.path.urn, node.path.attr))
        attr = outer.attr
        if attr.type != "complex" or not attr.multi_valued:
            raise invalid_filter(f"'{attr.name}[…]' needs a multi-valued complex attribute")
        if self.rt.is_group and attr.name == "members":
            return self.members_path(node.filter)
        element = attr_values.alias("element")
        prefix = path_key(outer.urn, attr.name) + "."
        inner = self.element_node(node.filter, outer, element)
        return exists().where(
            element.c.scim_id == R.scim_id,
            element.c.path.in_([prefix + s.name.casefold() for s in attr.sub_attributes]),
            inner,
        )

    def element_node(self, node: Filter, outer: Resolved, element: Any) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(
                self.element_node(node.left, outer, element),
                self.element_node(node.right, outer, element),
            )
        if isinstance(node, Or):
            return or_(
                self.element_node(node.left, outer, element),
                self.element_node(node.right, outer, element),
            )
        if isinstance(node, Not):
            return not_(self.element_node(node.inner, outer, element))
        if isinstance(node, ValuePath):
            raise invalid_filter("a value filter cannot be nested inside another")
        if node.path.urn is not None or node.path.sub is not None:
            raise invalid_filter(
                f"'{node.path}' inside '{outer.attr.name}[…]' must name a sub-attribute"
            )
        sub = outer.attr.sub(node.path.attr)
        if sub is None:
            raise invalid_filter(f"'{outer.attr.name}' has no sub-attribute '{node.path.attr}'")
        r = Resolved(outer.urn, outer.attr, sub)
        probe = attr_values.alias()
        same_element = and_(probe.c.scim_id == element.c.scim_id, probe.c.elem == element.c.elem)
        if isinstance(node, Present):
            return exists().where(
                same_element, probe.c.path == path_key(r.urn, r.attr.name, sub.name)
            )
        assert isinstance(node, Compare)
        node = Compare(node.path, node.op, filter_operand(sub, node.value))
        _check_value(sub, node.op, node.value)
        if node.value is None:
            present = exists().where(
                same_element, probe.c.path == path_key(r.urn, r.attr.name, sub.name)
            )
            return not_(present) if node.op == "eq" else present
        if node.op == "ne":
            return not_(
                exists().where(same_element, self.value_condition(sub, probe, r, "eq", node.value))
            )
        return exists().where(
            same_element, self.value_condition(sub, probe, r, node.op, node.value)
        )

    def members_path(self, node: Filter) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(self.members_path(node.left), self.members_path(node.right))
        if isinstance(node, Or):
            return or_(self.members_path(node.left), self.members_path(node.right))
        if (
            isinstance(node, Compare)
            and node.path.attr.lower() == "value"
            and isinstance(node.value, str)
        ):
            return exists().where(
                members.c.group_id == R.scim_id, _cmp(members.c.member_id, node.op, node.value)
            )
        raise invalid_filter("members can be filtered by value only")


def _cmp_literal(actual: str, op: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    a, v = actual.casefold(), value.casefold()
    return {
        "eq": a == v,
        "ne": a != v,
        "co": v in a,
        "sw": a.startswith(v),
        "ew": a.endswith(v),
    }.get(op, False)


def sort_key(rt: ResourceType, path: AttrPath) -> Any:
    """The value a resource sorts by (RFC 7644 §3.4.2.3), compared as filters compare it.

    Hot attributes sort by their indexed column; any other attribute by its indexed value, and
    a multi-valued one by its primary value, else its first (the RFC's rule).
    """
    compiler = _Compiler(rt)
    try:
        r = compiler.resolve(path)
    except ScimError as exc:
        raise ScimError(400, f"sortBy: {exc.detail}", "invalidValue") from None
    attr = r.sub or r.attr
    if attr.type == "complex":
        raise ScimError(400, f"sortBy: '{r.key}' is complex; name a sub-attribute", "invalidValue")
    column = compiler.hot_column(r)
    if column is not None:
        return _ordered(column)
    if rt.is_group and r.attr.name == "members":
        raise ScimError(400, "sortBy: groups cannot be sorted by members", "invalidValue")
    key = path_key(r.urn, r.attr.name, r.sub.name if r.sub else None)
    value = attr_values.alias("sort_value")
    primary = attr_values.alias("sort_primary")
    is_primary = (
        exists()
        .where(
            primary.c.scim_id == value.c.scim_id,
            primary.c.elem == value.c.elem,
            primary.c.path == path_key(r.urn, r.attr.name, "primary"),
            primary.c.text_value == "true",
        )
        .correlate_except(primary)
    )
    picked = value.c.num_value if attr.type in ("integer", "decimal") else value.c.text_value
    return _ordered(
        select(picked)
        .where(value.c.scim_id == R.scim_id, value.c.path == key)
        .order_by(case((is_primary, 0), else_=1), value.c.elem)
        .limit(1)
        .correlate(resources)
        .scalar_subquery()
    )


def select_ids(rt: ResourceType, node: Filter | None) -> Any:
    where = [R.kind == rt.name, R.deleted_at.is_(None)]
    if node is not None:
        where.append(compile_filter(rt, node))
    return select(R.scim_id).where(*where)
