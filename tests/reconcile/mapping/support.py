"""Shared builders for the mapping engine's tests."""

from __future__ import annotations

import tomllib
from typing import Any

from reconcile.mapping import ENTERPRISE_URN, KindMapping, compile_mapping
from reconcile.model import DesiredGroup, DesiredIdentity, read_only


def user(**data: Any) -> DesiredIdentity:
    """A desired user whose staged resource is ``data`` (``enterprise`` goes under its URN)."""
    enterprise = data.pop("enterprise", None)
    source = {"userName": "E1", **data}
    if enterprise is not None:
        source[ENTERPRISE_URN] = enterprise
    return DesiredIdentity("s-1", 1, source["userName"], source=read_only(source))


def group(**data: Any) -> DesiredGroup:
    source = {"displayName": "Sales", **data}
    return DesiredGroup("g-1", 1, source["displayName"], source=read_only(source))


def kind_mapping(toml: str, target: str = "ldap", kind: str = "user") -> KindMapping:
    compiled = compile_mapping(tomllib.loads(toml)["mapping"], "test.toml")
    part = compiled.target(target)
    assert part is not None
    found = part.kind(kind)
    assert found is not None
    return found


def one(template: str, desired: DesiredIdentity | None = None) -> list[str]:
    """The values one user attribute ``k = template`` renders for ``desired``."""
    mapping = kind_mapping(f"[mapping.ldap.user.attributes]\nk = {template!r}\n")
    return mapping.render(desired or user())["k"]
