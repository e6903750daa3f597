"""Custom extension schemas declared in configuration (RFC 7643 §7 schema representation).

An operator whose Entra mapping sends attributes beyond the enterprise extension (for example
``urn:ietf:params:scim:schemas:extension:acme:2.0:User:badgeNumber``) declares that schema in a
JSON file; it is then validated, patched, filtered and advertised at /Schemas like the built-in
ones. A bad file stops the start with a message naming what to fix, never a half-loaded catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inbound.schema import Attribute, Catalog, Schema

TYPES = frozenset(
    {"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
)
MUTABILITY = frozenset({"readOnly", "readWrite", "immutable", "writeOnly"})
RETURNED = frozenset({"always", "never", "default", "request"})
UNIQUENESS = frozenset({"none", "server", "global"})
RESERVED = frozenset(
    {
        "urn:ietf:params:scim:schemas:core:2.0:user",
        "urn:ietf:params:scim:schemas:core:2.0:group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
    }
)


class ExtensionSchemaError(ValueError):
    """The configured extension schemas cannot be used; the message says what to fix."""


def _choice(raw: dict[str, Any], key: str, allowed: frozenset[str], default: str, at: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise ExtensionSchemaError(f"{at}: '{key}' must be one of {sorted(allowed)}, got {value!r}")
    return str(value)


def _flag(raw: dict[str, Any], key: str, at: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ExtensionSchemaError(f"{at}: '{key}' must be true or false")
    return value


def attribute_from_json(raw: Any, at: str, *, nested: bool = False) -> Attribute:
    if not isinstance(raw, dict):
        raise ExtensionSchemaError(f"{at}: an attribute must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum():
        raise ExtensionSchemaError(f"{at}: 'name' must be an attribute name such as badgeNumber")
    at = f"{at}.{name}"
    kind = _choice(raw, "type", TYPES, "string", at)
    subs: tuple[Attribute, ...] = ()
    if kind == "complex":
        if nested:
            raise ExtensionSchemaError(f"{at}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)")
        listed = raw.get("subAttributes")
        if not isinstance(listed, list) or not listed:
            raise ExtensionSchemaError(f"{at}: a complex attribute needs 'subAttributes'")
        subs = tuple(attribute_from_json(s, at, nested=True) for s in listed)
    canonical = raw.get("canonicalValues", [])
    references = raw.get("referenceTypes", [])
    if not isinstance(canonical, list) or not isinstance(references, list):
        raise ExtensionSchemaError(f"{at}: canonicalValues and referenceTypes must be lists")
    return Attribute(
        name,
        kind,
        multi_valued=_flag(raw, "multiValued", at),
        required=_flag(raw, "required", at),
        case_exact=_flag(raw, "caseExact", at),
        mutability=_choice(raw, "mutability", MUTABILITY, "readWrite", at),
        returned=_choice(raw, "returned", RETURNED, "default", at),
        uniqueness=_choice(raw, "uniqueness", UNIQUENESS, "none", at),
        description=str(raw.get("description", "")),
        sub_attributes=subs,
        canonical_values=tuple(str(v) for v in canonical),
        reference_types=tuple(str(v) for v in references),
    )


def schema_from_json(raw: Any, at: str = "schema") -> Schema:
    if not isinstance(raw, dict):
        raise ExtensionSchemaError(f"{at}: a schema must be a JSON object")
    schema_id = raw.get("id")
    if not isinstance(schema_id, str) or not schema_id.startswith("urn:"):
        raise ExtensionSchemaError(f"{at}: 'id' must be the schema URN (urn:…)")
    if schema_id.lower() in RESERVED:
        raise ExtensionSchemaError(f"{at}: '{schema_id}' is built in; choose another URN")
    attributes = raw.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        raise ExtensionSchemaError(f"{schema_id}: 'attributes' must be a non-empty list")
    parsed = tuple(attribute_from_json(a, schema_id) for a in attributes)
    names = [a.name.lower() for a in parsed]
    if len(set(names)) != len(names):
        raise ExtensionSchemaError(f"{schema_id}: attribute names repeat (compared ignoring case)")
    return Schema(
        schema_id,
        str(raw.get("name") or schema_id.rsplit(":", 1)[-1]),
        str(raw.get("description") or "Custom extension"),
        parsed,
    )


def catalog_from_json(raw: Any, source: str = "extension schemas") -> Catalog:
    """``{"User": [schema, …], "Group": [schema, …]}`` → the catalog with those extensions."""
    base = Catalog()
    if not isinstance(raw, dict) or not set(raw) <= {"User", "Group"}:
        raise ExtensionSchemaError(
            f'{source}: expected {{"User": [schemas], "Group": [schemas]}} (either key optional)'
        )
    extra: dict[str, tuple[Schema, ...]] = {}
    for kind, listed in raw.items():
        if not isinstance(listed, list):
            raise ExtensionSchemaError(f"{source}: '{kind}' must be a list of schemas")
        extra[kind] = tuple(
            schema_from_json(s, f"{source} {kind}[{i}]") for i, s in enumerate(listed)
        )
    ids = [s.id.lower() for schemas in extra.values() for s in schemas]
    if len(set(ids)) != len(ids):
        raise ExtensionSchemaError(f"{source}: a schema URN is declared twice")
    return Catalog(
        base.user.with_extensions(extra.get("User", ())),
        base.group.with_extensions(extra.get("Group", ())),
    )


def load_catalog(path: str | None) -> Catalog:
    """The catalog for a configured file path; no path means the built-in schemas only."""
    if not path:
        return Catalog()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExtensionSchemaError(f"cannot read extension schemas from {path}: {exc}") from exc
    return catalog_from_json(raw, path)
