"""A user's application roles, read out of the SCIM ``roles`` Entra sent, for any target.

Staging keeps ``roles`` exactly as Entra sent them (docs/entra-dialect.md, App roles), and Entra
sends them in more than one shape: ``{"value": "Admin", "display": "Admin", "primary": true}``
from ``SingleAppRoleAssignment``; ``displayName`` instead of ``display`` from
``AppRoleAssignmentsComplex``; and, in PATCH requests, a ``value`` that is itself a JSON object
encoded as a string, ``"{\\"id\\":\\"…\\",\\"value\\":\\"25\\",\\"displayName\\":\\"Role1234\\"}"``.
A target wants the role's value and its name whichever shape arrived, so they are read here, in
one place, rather than by every connector and mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_ENCODED_ROLE = 4096
"""Characters of a JSON-encoded role value that are decoded; a longer value is kept whole."""


@dataclass(frozen=True, slots=True)
class AppRole:
    """One role a user holds: its value (what authorisation checks), its display name, and
    whether Entra marked it the primary one."""

    value: str
    display: str | None = None
    primary: bool = False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _decoded(value: str) -> dict[str, Any] | None:
    """The object a JSON-encoded role value holds, or None when the value is a plain name."""
    stripped = value.strip()
    if not stripped.startswith("{") or len(stripped) > MAX_ENCODED_ROLE:
        return None
    try:
        inner = json.loads(stripped)
    except ValueError:
        return None
    return inner if isinstance(inner, dict) else None


def _is_true(value: Any) -> bool:
    """Staging stores ``primary`` as a boolean; a string from before that rule reads alike."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def app_role(element: Any) -> AppRole | None:
    """The role one element of SCIM ``roles`` names, or None when it names none (Entra sends
    ``{"primary": true, "type": …}`` alone when only ``type`` is mapped)."""
    if isinstance(element, str):
        element = {"value": element}
    if not isinstance(element, dict):
        return None
    value = _text(element.get("value"))
    if value is None:
        return None
    display = _text(element.get("display")) or _text(element.get("displayName"))
    inner = _decoded(value)
    if inner is not None:
        inner_value = _text(inner.get("value")) or _text(inner.get("id"))
        if inner_value is None:
            return None
        value = inner_value
        display = display or _text(inner.get("displayName")) or _text(inner.get("display"))
    return AppRole(value, display, _is_true(element.get("primary")))


def app_roles(raw: Any) -> tuple[AppRole, ...]:
    """Every role of a SCIM ``roles`` value, once per role value in the order sent: a value
    sent twice is one role, primary when either was, named by the first display given."""
    items: Iterable[Any] = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    found: dict[str, AppRole] = {}
    for element in items:
        role = app_role(element)
        if role is None:
            continue
        seen = found.get(role.value)
        if seen is None:
            found[role.value] = role
        else:
            found[role.value] = AppRole(
                role.value, seen.display or role.display, seen.primary or role.primary
            )
    return tuple(found.values())
