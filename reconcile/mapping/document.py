"""The mapping document as TOML gives it, checked for shape before anything is compiled.

```
[mapping.value_maps.NAME]                       default = "…"; values = { source = "target" }
[mapping.<target>.<user|group>.attributes]      attribute = template | [templates] | { each, value }
[[mapping.<target>.<user|group>.placement]]     when = "expression"; dn = "container DN"
```
Every table and key outside that shape is a problem naming file, table and key, so a typo
(``atributes``) is refused instead of silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconcile.mapping.problems import MappingProblem

TARGET_NAMES = ("identity_store", "ldap")
KINDS = ("user", "group")


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """One target attribute: ``templates`` each give one value; with ``each``, the single
    template is rendered once per item of that expression's list (as ``item``).
    ``templates`` empty means the attribute is not managed at all."""

    key: str
    templates: tuple[str, ...]
    each: str | None = None


@dataclass(frozen=True, slots=True)
class PlacementSpec:
    index: int
    when: str
    dn: str


@dataclass(frozen=True, slots=True)
class KindSpec:
    target: str
    kind: str
    attributes: tuple[AttributeSpec, ...] = ()
    placement: tuple[PlacementSpec, ...] = ()

    @property
    def table(self) -> str:
        return f"mapping.{self.target}.{self.kind}"


@dataclass(frozen=True, slots=True)
class ValueMapSpec:
    name: str
    values: Mapping[str, str]
    default: str | None


@dataclass(slots=True)
class MappingDocument:
    file: str
    kinds: list[KindSpec] = field(default_factory=list)
    value_maps: dict[str, ValueMapSpec] = field(default_factory=dict)
    problems: list[MappingProblem] = field(default_factory=list)

    def problem(self, table: str, key: str, message: str) -> None:
        self.problems.append(MappingProblem(self.file, table, key, message))


def read_document(table: Mapping[str, Any], file: str) -> MappingDocument:
    """The ``[mapping]`` table's contents (what is under ``mapping``) as specs and problems."""
    doc = MappingDocument(file)
    for name, value in table.items():
        if name == "value_maps":
            _value_maps(doc, value)
        elif name in TARGET_NAMES:
            _target(doc, name, value)
        else:
            known = ", ".join(("value_maps", *TARGET_NAMES))
            doc.problem("mapping", name, f"unknown table; expected one of {known}")
    return doc


def _is_table(doc: MappingDocument, value: Any, table: str, key: str) -> bool:
    if isinstance(value, Mapping):
        return True
    doc.problem(table, key, "must be a table")
    return False


def _value_maps(doc: MappingDocument, maps: Any) -> None:
    if not _is_table(doc, maps, "mapping", "value_maps"):
        return
    for name, body in maps.items():
        table = f"mapping.value_maps.{name}"
        if not _is_table(doc, body, "mapping.value_maps", name):
            continue
        values: dict[str, str] = {}
        default: str | None = None
        for key, value in body.items():
            if key == "default":
                if isinstance(value, str):
                    default = value
                else:
                    doc.problem(table, key, "must be a string")
            elif key == "values":
                if not _is_table(doc, value, table, key):
                    continue
                for source, target in value.items():
                    if isinstance(target, str):
                        values[source] = target
                    else:
                        doc.problem(f"{table}.values", source, "must be a string")
            else:
                doc.problem(table, key, "unknown key; expected default or values")
        doc.value_maps[name] = ValueMapSpec(name, values, default)


def _target(doc: MappingDocument, target: str, body: Any) -> None:
    if not _is_table(doc, body, "mapping", target):
        return
    for kind, spec in body.items():
        table = f"mapping.{target}"
        if kind not in KINDS:
            doc.problem(table, kind, "unknown table; expected user or group")
        elif _is_table(doc, spec, table, kind):
            doc.kinds.append(_kind(doc, target, kind, spec))


def _kind(doc: MappingDocument, target: str, kind: str, body: Mapping[str, Any]) -> KindSpec:
    table = f"mapping.{target}.{kind}"
    attributes: list[AttributeSpec] = []
    placement: list[PlacementSpec] = []
    for key, value in body.items():
        if key == "attributes":
            if _is_table(doc, value, table, key):
                attributes = [
                    a
                    for name, spec in value.items()
                    if (a := _attribute(doc, f"{table}.attributes", name, spec)) is not None
                ]
        elif key == "placement":
            placement = _placement(doc, f"{table}.placement", value)
        else:
            doc.problem(table, key, "unknown key; expected attributes or placement")
    return KindSpec(target, kind, tuple(attributes), tuple(placement))


def _attribute(doc: MappingDocument, table: str, name: str, spec: Any) -> AttributeSpec | None:
    if isinstance(spec, str):
        return AttributeSpec(name, (spec,) if spec else ())
    if isinstance(spec, list):
        if all(isinstance(t, str) for t in spec):
            return AttributeSpec(name, tuple(t for t in spec if t))
        doc.problem(table, name, "a list of values must hold template strings only")
        return None
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"each", "value"})
        each, value = spec.get("each"), spec.get("value")
        if unknown:
            doc.problem(table, name, f"unknown key {unknown[0]!r}; expected each and value")
        elif not (isinstance(each, str) and each and isinstance(value, str) and value):
            doc.problem(table, name, "needs both each (an expression) and value (a template)")
        else:
            return AttributeSpec(name, (value,), each)
        return None
    doc.problem(table, name, "must be a template string, a list of them, or {each, value}")
    return None


def _placement(doc: MappingDocument, table: str, rules: Any) -> list[PlacementSpec]:
    if not isinstance(rules, list):
        doc.problem(table, "", "must be an array of tables ([[…placement]])")
        return []
    out: list[PlacementSpec] = []
    for index, rule in enumerate(rules):
        where = f"{table}[{index}]"
        if not isinstance(rule, Mapping):
            doc.problem(where, "", "must be a table with when and dn")
            continue
        for key in sorted(set(rule) - {"when", "dn"}):
            doc.problem(where, key, "unknown key; expected when and dn")
        when, dn = rule.get("when", "true"), rule.get("dn")
        if not isinstance(when, str) or not when.strip():
            doc.problem(where, "when", "must be a non-empty expression")
        elif not isinstance(dn, str) or not dn.strip():
            doc.problem(where, "dn", "must be a DN")
        else:
            out.append(PlacementSpec(index, when, dn.strip()))
    return out
