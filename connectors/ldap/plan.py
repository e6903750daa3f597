"""A user's apply run *dry* against its batch's read-ahead, to learn the write it would send.

The dry run is :func:`connectors.ldap.users.apply_user` itself, on a session that sends
nothing: it notes the apply's first request and answers it with a plain success, and stops the
apply at a search (whose entries it cannot know) or at any second request. A first request that
is a write (the add of a new user, the guarded modify of an anchored one) is sent ahead with
the batch (:mod:`connectors.ldap.batch`). Where the apply then returned at once, as an update
does after its guarded modify succeeds, its outcome is kept too: when the real write meets
exactly that plain success, the apply's own code has already said what it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ldap3.core.exceptions import LDAPException

from connectors.ldap.directory import Directory
from connectors.ldap.mapping import Layout
from connectors.ldap.ownership import Ownership
from connectors.ldap.requests import Control
from connectors.ldap.responses import Entry
from connectors.ldap.session import Session
from connectors.ldap.users import apply_user
from connectors.ldap.wire import Done, Request, Result
from reconcile.errors import TargetError
from reconcile.model import DesiredIdentity
from reconcile.ports import Applied

Key = tuple[str, int, str | None]
_SEARCH_REQUEST = 0x63


def key(desired: DesiredIdentity, anchor: str | None) -> Key:
    """One apply of one generation of one resource, as handed to ``prepare`` and ``apply``."""
    return (desired.scim_id, desired.generation, anchor)


class _Stop(Exception):
    """Not an error: how a dry apply stops where it would need a real answer."""


PLAIN_SUCCESS = Result(code=0)
"""The result a dry apply is given for its write: success, with no message and no controls."""


class _DrySession(Session):
    """Sends nothing: notes an apply's first request and answers it with :data:`PLAIN_SUCCESS`;
    stops the apply at a search (it would need the entries) or at a second request."""

    def __init__(self) -> None:
        self.replay = None
        self.first: tuple[bytes, tuple[Control, ...]] | None = None

    def _send(self, requests: Sequence[Request], done: Done | None = None) -> list[Result]:
        if self.first is not None:
            raise _Stop
        request, controls = requests[0]
        self.first = (request, tuple(controls))
        if len(requests) != 1 or request[0] == _SEARCH_REQUEST:
            raise _Stop
        return [Result(code=0)]


@dataclass(slots=True)
class Planned:
    """A batch's writes, by :func:`key`, and what each apply returns if its write meets
    :data:`PLAIN_SUCCESS` (None where the apply would need more than that to decide)."""

    keys: list[Key] = field(default_factory=list)
    requests: list[tuple[bytes, tuple[Control, ...]]] = field(default_factory=list)
    foreseen: list[Applied | None] = field(default_factory=list)


def plan(
    layout: Layout,
    prefetched: dict[str, list[Entry]],
    users: Sequence[tuple[DesiredIdentity, str | None]],
    ownership: Ownership,
) -> Planned:
    """The first write of every user apply that needs one and can be decided from the
    read-ahead alone, by :func:`key`; and, where the apply ends right after a plainly
    successful write (a guarded modify), the outcome it then returns, so that outcome is
    decided by the apply's own code, only once. ``ownership`` already knows who holds the
    entries read ahead, so a dry run asks the ledger nothing."""
    prefetched = dict(prefetched)  # a copy: applies pop from it
    planned = Planned()
    for desired, anchor in users:
        session = _DrySession()
        foreseen: Applied | None = None
        try:
            directory = Directory(session, layout, ownership.fork(), prefetched)
            foreseen = apply_user(directory, desired, anchor)
        except (_Stop, TargetError, LDAPException, ValueError):
            foreseen = None  # the apply meets it again, and reports it
        first = session.first
        if first is None or first[0][0] == _SEARCH_REQUEST:
            continue
        planned.keys.append(key(desired, anchor))
        planned.requests.append(first)
        planned.foreseen.append(foreseen)
    return planned
