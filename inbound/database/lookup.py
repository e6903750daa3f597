"""Recognise the filters Entra actually sends, so they skip the general SQL compiler.

Entra matches with ``eq`` (joined by ``and``) on ``userName``, ``externalId``, ``id`` or a
group's ``displayName`` (docs/entra-dialect.md, Transport and discovery). Those land on indexed
columns of ``scim_resources`` and run as one precompiled statement; every other filter returns
None here and goes through :mod:`inbound.database.query`, which gives the same answers more slowly.
"""

from __future__ import annotations

from dataclasses import dataclass

from inbound.errors import ScimError
from inbound.filter import And, Compare, Filter
from inbound.input_rules import name_key
from inbound.resource import resolve
from inbound.schema import ResourceType

_COLUMNS = {"id": "scim_id", "externalid": "external_id"}


@dataclass(frozen=True, slots=True)
class HotLookup:
    where: str
    params: tuple[str, ...]
    by_id: bool = False
    """The filter names an ``id``: the caller leaves ``kind`` out of the SQL and checks it
    on the row, so the primary key is the only index that fits (see ``ResourceStore``)."""
    unique: bool = False
    """A clause on ``name_key`` (with ``kind``) or on ``scim_id`` matches one row at most, so
    the statement needs no ORDER BY (which cost SQLite a sort of that one row per lookup)."""
    names: tuple[str, ...] = ()
    """Casefolded names the row's own name must equal. ``name_key`` also folds width and
    spacing (that is the uniqueness rule), while ``eq`` keeps its meaning of RFC 7643: equal
    ignoring case only. So ``userName eq "alice "`` narrows to the row of ``alice`` by the
    index, and this check leaves it out."""

    def confirms(self, name: str) -> bool:
        folded = name.casefold()
        return all(folded == wanted for wanted in self.names)


def _terms(node: Filter) -> list[Compare] | None:
    """The ``eq`` comparisons of an ``and`` chain, in order; None for any other shape.
    Iterative: a chain is a tree whose depth the parser bounds, but no walk here relies on it."""
    terms: list[Compare] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, And):
            stack.extend((current.right, current.left))
        elif isinstance(current, Compare) and current.op == "eq" and isinstance(current.value, str):
            terms.append(current)
        else:
            return None
    return terms


def hot_lookup(rt: ResourceType, node: Filter | None) -> HotLookup | None:
    if node is None:
        return None
    terms = _terms(node)
    if not terms:
        return None
    clauses: list[str] = []
    params: list[str] = []
    names: list[str] = []
    for term in terms:
        try:
            resolved = resolve(rt, term.path)
        except ScimError:
            return None  # let the general compiler word the error
        key = resolved.key.lower()
        if key == ("username" if rt.is_user else "displayname"):
            clauses.append("name_key = ?")
            params.append(name_key(term.value))
            names.append(term.value.casefold())
        elif key in _COLUMNS:
            clauses.append(f"{_COLUMNS[key]} = ?")
            params.append(term.value)
        else:
            return None
    by_id = "scim_id = ?" in clauses
    return HotLookup(
        " AND ".join(clauses), tuple(params), by_id, unique=by_id or bool(names), names=tuple(names)
    )
