"""Desired state as the reconciler sees it: what Entra asked for, stripped of SCIM wire detail.

Targets compare these values with what they observe and change only what differs, so a value
here must be comparable with ``==`` and carry nothing a target does not need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ResourceKind(StrEnum):
    USER = "User"
    GROUP = "Group"


Source = Mapping[str, Any]
"""The staged SCIM resource as stored (core, enterprise and extension attributes, emails,
phone numbers, addresses, roles …), read-only: what declarative mappings render from."""

NO_SOURCE: Source = MappingProxyType({})


def read_only(resource: dict[str, Any]) -> Source:
    """``resource`` behind a read-only view (no copy: the caller hands it over); views compare
    by value, so two desired states with equal resources are equal."""
    return MappingProxyType(resource)


@dataclass(frozen=True, slots=True)
class DesiredIdentity:
    """One user as the Identity Manager should hold it, keyed by ``user_id`` (SCIM userName)."""

    scim_id: str
    generation: int
    user_id: str
    active: bool = True
    external_id: str | None = None
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    manager_scim_id: str | None = None
    manager_user_id: str | None = None
    source: Source = field(default_factory=lambda: NO_SOURCE, hash=False, repr=False)
    """The whole staged User (see :data:`Source`); the typed fields above are read from it.
    Compared by value, left out of the hash (a dict has none) and of the repr."""

    kind = ResourceKind.USER


@dataclass(frozen=True, slots=True, order=True)
class MemberRef:
    """A group member; the user ID travels with the SCIM id so targets need not look it up."""

    scim_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class DesiredGroup:
    scim_id: str
    generation: int
    display_name: str
    external_id: str | None = None
    members: frozenset[MemberRef] = field(default_factory=frozenset)
    source: Source = field(default_factory=lambda: NO_SOURCE, hash=False, repr=False)
    """The staged Group as stored (its members are in ``members``, not here)."""

    kind = ResourceKind.GROUP


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A resource Entra deleted; kept until every target has observed the delete."""

    scim_id: str
    generation: int
    resource_kind: ResourceKind
    name: str

    @property
    def kind(self) -> ResourceKind:
        return self.resource_kind


Desired = DesiredIdentity | DesiredGroup | Tombstone
