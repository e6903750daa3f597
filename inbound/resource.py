"""Incoming resources made canonical, and stored ones rendered back, both driven by the schema.

Canonical form: attribute names spelled as the schema spells them, extension attributes under
their schema URN, unassigned values (null, "", empty lists) absent, booleans real booleans.
Everything else is kept exactly as Entra sent it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbound.errors import ScimError, invalid_path, invalid_syntax, invalid_value
from inbound.filter import AttrPath, parse_attr_path
from inbound.input_rules import (
    check_finite,
    check_integer,
    check_length,
    check_name,
    check_no_controls,
    check_single_line,
)
from inbound.schema import (
    COMMON,
    IGNORED_SCHEMAS,
    Attribute,
    ResourceType,
    Schema,
)

META = Attribute(
    "meta",
    "complex",
    mutability="readOnly",
    sub_attributes=(
        Attribute("resourceType", case_exact=True, mutability="readOnly"),
        Attribute("created", "dateTime", mutability="readOnly"),
        Attribute("lastModified", "dateTime", mutability="readOnly"),
        Attribute("location", "reference", mutability="readOnly"),
        Attribute("version", case_exact=True, mutability="readOnly"),
    ),
)
_COMMON_BY_NAME = {a.name.lower(): a for a in (*COMMON, META)}


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where an attribute path lands: the extension URN holding it (None for core), the
    attribute, and the sub-attribute if the path names one."""

    urn: str | None
    attr: Attribute
    sub: Attribute | None

    @property
    def key(self) -> str:
        """A stable spelling used for indexes and errors, e.g. ``emails.value``."""
        head = f"{self.urn}:{self.attr.name}" if self.urn else self.attr.name
        return f"{head}.{self.sub.name}" if self.sub else head


def resolve(rt: ResourceType, path: AttrPath, *, error: type[ScimError] | None = None) -> Resolved:
    """Find the attribute a path names, case-insensitively; unknown names are a 400."""
    schema: Schema | None
    attr: Attribute | None = None
    urn: str | None = None
    if path.urn is not None:
        schema = rt.schema_for(path.urn)
        if schema is None:
            raise invalid_path(f"'{path.urn}' is not a schema of {rt.name} resources")
        attr = schema.attribute(path.attr)
        urn = None if schema is rt.core else schema.id
        if attr is None and schema is rt.core:
            attr = _COMMON_BY_NAME.get(path.attr.lower())
    else:
        attr = rt.core.attribute(path.attr) or _COMMON_BY_NAME.get(path.attr.lower())
        if attr is None:
            for ext in rt.extensions:
                attr = ext.attribute(path.attr)
                if attr is not None:
                    urn = ext.id
                    break
    if attr is None:
        raise invalid_path(f"'{path}' is not an attribute of {rt.name} resources")
    sub: Attribute | None = None
    if path.sub is not None:
        sub = attr.sub(path.sub)
        if sub is None:
            raise invalid_path(f"'{path}': '{attr.name}' has no sub-attribute '{path.sub}'")
    return Resolved(urn, attr, sub)


def _shown(value: Any) -> str:
    """A refused value as the error repeats it: short, whatever was sent."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_indexed(rt: ResourceType, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """The values kept in indexed columns, checked when they are new or change: a name by
    the name policy, every one against its column's length. Unchanged values are left alone,
    so a resource stored before these rules can still be patched, and renamed by Entra."""
    name = "userName" if rt.is_user else "displayName"
    for field in dict.fromkeys((name, "displayName", "externalId")):
        value = after.get(field)
        if not isinstance(value, str) or (before is not None and before.get(field) == value):
            continue
        if field == name:
            check_name(value, field)
        else:
            check_length(value, field)


def coerce_boolean(value: Any, where: str) -> bool:
    """Entra sends booleans as "True"/"False" strings in some bodies (docs/entra-dialect.md,
    PATCH 2)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(f"'{where}' must be a boolean (true or false), got {_shown(value)}")


MAX_EXTRA_SUB_ATTRIBUTES = 16
"""Unlisted sub-attributes kept on one element of an open-ended attribute (Entra adds two)."""
_EXTRA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_$-]{0,63}")
_EXTRA_TEXT = Attribute("extra")
_EXTRA_NUMBER = Attribute("extra", "decimal")


def _extra_sub_value(key: str, value: Any, where: str) -> Any:
    """A sub-attribute the schema does not list, on an attribute that keeps such (``roles``):
    kept as sent when it is a plain name with a string, number or boolean, since nothing
    downstream knows its type; a nested object or list is refused rather than stored blind."""
    if not _EXTRA_NAME.fullmatch(key):
        raise invalid_value(f"'{where}': {_shown(key)} is not an attribute name")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return coerce_single(_EXTRA_NUMBER, value, where)
    if isinstance(value, str):
        return coerce_single(_EXTRA_TEXT, value, where)
    raise invalid_value(
        f"'{where}' is not in the schema and must be a string, number or boolean, "
        f"got {type(value).__name__}"
    )


def coerce(attr: Attribute, value: Any, where: str) -> Any:
    """The canonical value of one attribute, or None when the value means 'unassigned'."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        out = [v for v in (coerce_single(attr, item, where) for item in items) if v is not None]
        if attr.type == "complex":
            primaries = sum(1 for v in out if isinstance(v, dict) and v.get("primary") is True)
            if primaries > 1:
                raise invalid_value(f"'{where}' has more than one value marked primary")
        return out or None
    if isinstance(value, list):
        raise invalid_value(f"'{where}' takes a single value, not a list")
    return coerce_single(attr, value, where)


def coerce_single(attr: Attribute, value: Any, where: str) -> Any:
    if value is None:
        return None
    kind = attr.type
    if kind == "complex":
        if not isinstance(value, dict):
            if attr.sub("value") is not None:
                value = {"value": value}
            else:
                raise invalid_value(f"'{where}' must be an object")
        out: dict[str, Any] = {}
        extras = 0
        for key, sub_value in value.items():
            sub = attr.sub(key)
            if sub is None:
                if not attr.open_ended:
                    raise invalid_value(f"'{where}' has no sub-attribute '{key}'")
                extras += 1
                if extras > MAX_EXTRA_SUB_ATTRIBUTES:
                    raise invalid_value(
                        f"'{where}' has more than {MAX_EXTRA_SUB_ATTRIBUTES} sub-attributes "
                        "its schema does not list"
                    )
                extra = _extra_sub_value(key, sub_value, f"{where}.{key}")
                if extra is not None:
                    out[key] = extra
                continue
            coerced = coerce_single(sub, sub_value, f"{where}.{sub.name}")
            if coerced is not None:
                out[sub.name] = coerced
        return out or None
    if kind == "boolean":
        return coerce_boolean(value, where)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_value(f"'{where}' must be an integer, got {_shown(value)}")
        check_integer(value, where)
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_value(f"'{where}' must be a number, got {_shown(value)}")
        if isinstance(value, int):
            check_integer(value, where)
        else:
            check_finite(value, where)
        return value
    if not isinstance(value, str):
        raise invalid_value(f"'{where}' must be a string, got {type(value).__name__}")
    if value == "":
        return None
    if not value.isprintable():  # in C, and true of nearly every value: the checks look closer
        check_no_controls(value, where)
        if not attr.multi_line:
            check_single_line(value, where)
    if kind == "dateTime":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise invalid_value(f"'{where}' must be an xsd:dateTime, got {value!r}") from None
    return value


def _check_schemas(rt: ResourceType, raw: Any) -> None:
    if raw is None:
        return
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise invalid_syntax("'schemas' must be a list of schema URIs")
    for uri in raw:
        if rt.schema_for(uri) is None and uri.lower() not in IGNORED_SCHEMAS:
            raise invalid_value(
                f"schema '{uri}' is not supported for {rt.name} resources; "
                f"use {', '.join(rt.schema_ids)}"
            )


def normalise(rt: ResourceType, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """Validate a POST/PUT body; returns the canonical data and, for groups, the members."""
    if not isinstance(body, dict):
        raise invalid_syntax("the request body must be a JSON object")
    data: dict[str, Any] = {}
    members: list[dict[str, Any]] | None = None
    for key, value in body.items():
        lowered = key.lower()
        if lowered == "schemas":
            _check_schemas(rt, value)
            continue
        if lowered in ("id", "meta"):
            continue  # readOnly: ignored on input (RFC 7643 §2.2)
        ext = rt.schema_for(key) if ":" in key else None  # schema ids are URNs
        if ext is not None and ext is not rt.core:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid_value(f"'{key}' must be an object of {ext.name} attributes")
            ext_data: dict[str, Any] = {}
            for sub_key, sub_value in value.items():
                if sub_key.lower() == "schemas":
                    continue  # some clients repeat the extension's URN inside it
                attr = ext.attribute(sub_key)
                if attr is None:
                    raise invalid_value(f"'{sub_key}' is not an attribute of {ext.id}")
                if attr.mutability == "readOnly":
                    continue  # e.g. the sync state a client read and sent back
                _put(ext_data, attr, sub_value, f"{ext.id}:{attr.name}")
            if ext_data:
                data[ext.id] = ext_data
            continue
        resolved = _resolve_body_key(rt, key)
        if resolved.attr.mutability == "readOnly":
            continue
        if rt.is_group and resolved.attr.name == "members":
            members = coerce(resolved.attr, value, "members") or []
            for member in members:
                if "value" not in member:
                    raise invalid_value("each member needs a 'value' with the member's id")
            continue
        target = data.setdefault(resolved.urn, {}) if resolved.urn else data
        _put(target, resolved.attr, value, resolved.key)
    for attr in rt.core.attributes:
        if attr.required and attr.name not in data:
            raise invalid_value(f"'{attr.name}' is required for {rt.name} resources")
    data.pop("password", None)  # never stored: scim-sync provisions no passwords
    return data, members


def extension_of(rt: ResourceType, path: str) -> Schema | None:
    """The extension schema a PATCH path names as a whole, e.g. the enterprise URN."""
    schema = rt.schema_for(path.strip())
    return schema if schema is not None and schema is not rt.core else None


_RESOLVED: dict[tuple[int, str], tuple[ResourceType, Resolved]] = {}
"""Body keys already resolved, by resource type and spelling: a create resolves a dozen, the
same dozen every time. The entry holds its resource type, so that type's id cannot be reused
while the entry lives."""


def _resolve_body_key(rt: ResourceType, key: str) -> Resolved:
    cached = _RESOLVED.get((id(rt), key))
    if cached is not None and cached[0] is rt:
        return cached[1]
    resolved = _resolve_uncached(rt, key)
    if len(_RESOLVED) >= 4096:
        _RESOLVED.clear()
    _RESOLVED[(id(rt), key)] = (rt, resolved)
    return resolved


def _resolve_uncached(rt: ResourceType, key: str) -> Resolved:
    try:
        resolved = resolve(rt, parse_attr_path(key))
    except ScimError as exc:
        raise invalid_value(exc.detail) from None
    if resolved.sub is not None:
        raise invalid_value(f"'{key}': nest sub-attributes inside '{resolved.attr.name}'")
    return resolved


def _put(target: dict[str, Any], attr: Attribute, value: Any, where: str) -> None:
    coerced = coerce(attr, value, where)
    if coerced is None:
        target.pop(attr.name, None)
    else:
        target[attr.name] = coerced


def check_immutable(rt: ResourceType, before: dict[str, Any], after: dict[str, Any]) -> None:
    """An ``immutable`` attribute, once set, keeps its value (RFC 7643 §2.2): else 400."""
    for schema in (rt.core, *rt.extensions):
        old = before if schema is rt.core else before.get(schema.id) or {}
        new = after if schema is rt.core else after.get(schema.id) or {}
        for attr in schema.attributes:
            if attr.mutability != "immutable" or attr.name not in old:
                continue
            if new.get(attr.name) != old[attr.name]:
                where = attr.name if schema is rt.core else f"{schema.id}:{attr.name}"
                raise ScimError(
                    400,
                    f"'{where}' is immutable: it was set when the resource was created and "
                    "cannot change; create a new resource instead",
                    "mutability",
                )
