"""A batch of user applies whose writes go out together, before the applies themselves run.

One write per round trip kept the target at the speed of a round trip plus the Python work
around it, whatever the number of connections. So, for a batch the run loop hands to
``prepare``, each user's apply is first run *dry* against the batch's read-ahead: the same
:func:`connectors.ldap.users.apply_user`, on a session that sends nothing and stops at the first
request it is asked for. Where that request is a write (the add of a new user, the guarded
modify of an anchored one), it is kept; all kept writes are then sent on one connection, many in
flight at once (:meth:`Session.pipeline`), and their results kept by resource.

When the run loop then calls ``apply``, the apply runs for real, exactly as without a batch; its
session holds the result of the write sent ahead (:attr:`Session.replay`) and hands it over
instead of sending that write again, but only if the apply asks for that very request, byte for
byte. The decision logic therefore exists once, every result is judged by the same code as an
unbatched write (error classes, Post-Read anchors, a failed assertion falling back to a search),
and anything a dry run cannot decide alone (a manager to look up, an entry to find by search) is
simply not sent ahead.
"""

from __future__ import annotations

from collections.abc import Sequence

from ldap3.core.exceptions import LDAPException

from connectors.ldap.directory import Directory
from connectors.ldap.mapping import Layout
from connectors.ldap.requests import Control
from connectors.ldap.responses import Entry
from connectors.ldap.session import Replay, Session
from connectors.ldap.users import apply_user
from connectors.ldap.wire import Result
from reconcile.errors import TargetError
from reconcile.model import DesiredIdentity

Key = tuple[str, int, str | None]
_SEARCH_REQUEST = 0x63


def key(desired: DesiredIdentity, anchor: str | None) -> Key:
    """One apply of one generation of one resource, as handed to ``prepare`` and ``apply``."""
    return (desired.scim_id, desired.generation, anchor)


class _FirstRequest(Exception):
    """Not an error: how a dry apply says which request it would send first."""

    def __init__(self, request: bytes, controls: Sequence[Control]) -> None:
        self.request = request
        self.controls = tuple(controls)


class _DrySession(Session):
    """Sends nothing: stops an apply at its first request and says what it was."""

    def __init__(self) -> None:
        self.replay = None

    def exchange(self, request: bytes, controls: Sequence[Control]) -> Result:
        raise _FirstRequest(request, controls)


def send_ahead(
    session: Session,
    layout: Layout,
    prefetched: dict[str, list[Entry]],
    users: Sequence[tuple[DesiredIdentity, str | None]],
) -> dict[Key, Replay]:
    """Send the first write of every user apply that needs one and can be decided from the
    read-ahead alone; their results by :func:`key`. Raises only for a broken connection."""
    dry = Directory(_DrySession(), layout, dict(prefetched))  # a copy: applies pop from it
    keys: list[Key] = []
    requests: list[tuple[bytes, tuple[Control, ...]]] = []
    for desired, anchor in users:
        try:
            apply_user(dry, desired, anchor)
        except _FirstRequest as first:
            if first.request[0] != _SEARCH_REQUEST:
                keys.append(key(desired, anchor))
                requests.append((first.request, first.controls))
        except (TargetError, LDAPException, ValueError):
            continue  # the apply meets it again, and reports it
    results = session.pipeline(requests)
    return {
        k: (request, controls, result)
        for k, (request, controls), result in zip(keys, requests, results, strict=True)
    }
