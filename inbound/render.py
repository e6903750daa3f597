"""Stored resources back to SCIM JSON, with ``attributes`` / ``excludedAttributes`` honoured."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbound.errors import ScimError, invalid_value
from inbound.filter import parse_attr_path
from inbound.resource import Resolved, resolve
from inbound.schema import ENTERPRISE_SCHEMA, SYNC_SCHEMA, ResourceType
from inbound.timestamps import utc_text


def iso(moment: datetime) -> str:
    """``2026-12-07T03:09:12.123456Z``: ``isoformat`` with ``Z`` for UTC."""
    text = utc_text(moment, "T", always_fraction=False)
    return moment.isoformat().replace("+00:00", "Z") if text is None else text + "Z"


def etag(generation: int) -> str:
    return f'W/"{generation}"'


@dataclass(frozen=True, slots=True)
class Projection:
    """Which attributes a response carries (RFC 7644 §3.4.2.5)."""

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()

    @property
    def wants_members(self) -> bool:
        if self.include:
            return "members" in self.include or any(k.startswith("members.") for k in self.include)
        return "members" not in self.exclude

    @property
    def wants_sync(self) -> bool:
        """The sync state is returned on request only (it is scim-sync's, not Entra's)."""
        prefix = SYNC_SCHEMA.lower()
        return any(k.startswith(prefix) for k in self.include)

    @property
    def wants_groups(self) -> bool:
        if self.include:
            return "groups" in self.include or any(k.startswith("groups.") for k in self.include)
        return "groups" not in self.exclude


def parse_projection(rt: ResourceType, attributes: str | None, excluded: str | None) -> Projection:
    return Projection(_keys(rt, attributes), _keys(rt, excluded))


MAX_PROJECTION_LENGTH = 4096
MAX_PROJECTION_NAMES = 100
"""``attributes``/``excludedAttributes``: a User has about 60 attribute names in all."""


def _keys(rt: ResourceType, text: str | None) -> frozenset[str]:
    if not text:
        return frozenset()
    if len(text) > MAX_PROJECTION_LENGTH:
        raise invalid_value(
            f"attributes: the list is {len(text)} characters long; the maximum is "
            f"{MAX_PROJECTION_LENGTH}"
        )
    parts = text.split(",")
    if len(parts) > MAX_PROJECTION_NAMES:
        raise invalid_value(
            f"attributes: {len(parts)} names listed; the maximum is {MAX_PROJECTION_NAMES}"
        )
    keys = set()
    for part in parts:
        part = part.strip()
        if not part:
            continue
        try:
            resolved = resolve(rt, parse_attr_path(part))
        except ScimError as exc:
            raise invalid_value(f"attributes: {exc.detail}") from None
        keys.add(_key(resolved))
    return frozenset(keys)


def _key(resolved: Resolved) -> str:
    head = (
        f"{resolved.urn}:{resolved.attr.name}".lower()
        if resolved.urn
        else resolved.attr.name.lower()
    )
    return f"{head}.{resolved.sub.name.lower()}" if resolved.sub else head


_WITHHELD: dict[int, tuple[ResourceType, frozenset[str], frozenset[str]]] = {}


def withheld(rt: ResourceType) -> tuple[frozenset[str], frozenset[str]]:
    """Keys (``attr`` or ``urn:attr``, lower case) returned ``never`` and only on ``request``.

    Cached by identity: hashing a resource type walks every attribute definition, which cost
    more than rendering the resource.
    """
    cached = _WITHHELD.get(id(rt))
    if cached is not None and cached[0] is rt:
        return cached[1], cached[2]
    never: set[str] = set()
    request: set[str] = set()
    for schema in (rt.core, *rt.extensions):
        prefix = "" if schema is rt.core else schema.id.lower() + ":"
        for attr in schema.attributes:
            if attr.returned == "never":
                never.add(prefix + attr.name.lower())
            elif attr.returned == "request":
                request.add(prefix + attr.name.lower())
    _WITHHELD[id(rt)] = (rt, frozenset(never), frozenset(request))
    return frozenset(never), frozenset(request)


def _withhold(rt: ResourceType, out: dict[str, Any], projection: Projection | None) -> None:
    """Drop ``returned: never`` always, ``returned: request`` unless ``attributes`` names it."""
    never, request = withheld(rt)
    if not never and not request:
        return
    asked = projection.include if projection else frozenset()
    for key in list(out):
        container = out[key] if key.startswith("urn:") and isinstance(out[key], dict) else None
        if container is None:
            lowered = key.lower()
            if lowered in never or (lowered in request and lowered not in asked):
                del out[key]
            continue
        for sub_key in list(container):
            lowered = f"{key.lower()}:{sub_key.lower()}"
            if lowered in never or (lowered in request and lowered not in asked):
                del container[sub_key]
        if not container:
            del out[key]
            out["schemas"] = [s for s in out["schemas"] if s != key]


def _endpoint_of(member: dict[str, Any]) -> str:
    return "Groups" if member.get("type") == "Group" else "Users"


def render(
    rt: ResourceType,
    *,
    scim_id: str,
    data: Mapping[str, Any],
    created: datetime,
    modified: datetime,
    generation: int,
    base_url: str,
    members: Iterable[dict[str, Any]] | None = None,
    groups: Iterable[dict[str, Any]] | None = None,
    projection: Projection | None = None,
    sync: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The SCIM representation of one staged resource."""
    out: dict[str, Any] = {"schemas": [rt.core.id], "id": scim_id}
    for key, value in data.items():
        if key.startswith("urn:"):
            out["schemas"].append(key)
            out[key] = dict(value)
        else:
            out[key] = value
    manager = (out.get(ENTERPRISE_SCHEMA) or {}).get("manager")
    if isinstance(manager, dict) and "value" in manager and "$ref" not in manager:
        manager["$ref"] = f"{base_url}/Users/{manager['value']}"
    if members is not None:
        # members.display is returned on request only: it is derived from the member's own
        # name, and a client that sent members without it gets back exactly what it sent.
        with_display = projection is not None and "members.display" in projection.include
        rendered = [
            {
                "value": m["value"],
                "$ref": f"{base_url}/{_endpoint_of(m)}/{m['value']}",
                "type": m.get("type", "User"),
                **({"display": m["display"]} if with_display and m.get("display") else {}),
            }
            for m in members
        ]
        if rendered or rt.is_group:
            out["members"] = rendered
    if groups is not None:
        listed = [
            {
                "value": g["value"],
                "$ref": f"{base_url}/Groups/{g['value']}",
                "display": g["display"],
                "type": "direct",
            }
            for g in groups
        ]
        if listed:
            out["groups"] = listed
    if sync:
        out["schemas"].append(SYNC_SCHEMA)
        out[SYNC_SCHEMA] = {"targets": sync}
    out["meta"] = {
        "resourceType": rt.name,
        "created": iso(created),
        "lastModified": iso(modified),
        "location": f"{base_url}/{rt.endpoint}/{scim_id}",
        "version": etag(generation),
    }
    _withhold(rt, out, projection)
    if projection and (projection.include or projection.exclude):
        return _project(rt, out, projection)
    return out


_ALWAYS = frozenset({"id", "schemas"})


def _project(rt: ResourceType, resource: dict[str, Any], projection: Projection) -> dict[str, Any]:
    always = _ALWAYS | {a.name.lower() for a in rt.core.attributes if a.returned == "always"}
    out: dict[str, Any] = {}
    for key, value in resource.items():
        lowered = key.lower()
        if lowered in always:
            out[key] = value
            continue
        if key.startswith("urn:") and isinstance(value, dict):
            inner = {
                k: v
                for k, v in value.items()
                if _wanted(f"{lowered}:{k.lower()}", projection)
                or _has_sub(f"{lowered}:{k.lower()}", projection)
            }
            inner = {
                k: _sub_project(f"{lowered}:{k.lower()}", v, projection) for k, v in inner.items()
            }
            if inner:
                out[key] = inner
            continue
        if _wanted(lowered, projection) or _has_sub(lowered, projection):
            out[key] = _sub_project(lowered, value, projection)
    if projection.include:
        out["schemas"] = [s for s in resource["schemas"] if s == rt.core.id or s in out]
    return out


def _wanted(key: str, projection: Projection) -> bool:
    if projection.include:
        return key in projection.include
    return key not in projection.exclude


def _has_sub(key: str, projection: Projection) -> bool:
    prefix = key + "."
    if projection.include:
        return any(k.startswith(prefix) for k in projection.include)
    return False


def _sub_project(key: str, value: Any, projection: Projection) -> Any:
    prefix = key + "."
    if projection.include and key not in projection.include:
        subs = {k[len(prefix) :] for k in projection.include if k.startswith(prefix)}
    else:
        subs = None
    dropped = {k[len(prefix) :] for k in projection.exclude if k.startswith(prefix)}
    if subs is None and not dropped:
        return value

    def pick(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        return {
            k: v
            for k, v in item.items()
            if (subs is None or k.lower() in subs or k.lower() == "value")
            and k.lower() not in dropped
        }

    if isinstance(value, list):
        return [pick(v) for v in value]
    return pick(value)
