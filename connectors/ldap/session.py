"""One borrowed connection with typed operations that raise on any non-success result.

The operations are the ones ldap3's ``Connection`` offered the target before (same requests,
same defaults, same result handling), sent through :class:`connectors.ldap.wire.Wire`.
:meth:`Session.pipeline` sends many at once and returns every result unchecked, for callers
that apply a whole batch and judge each outcome on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from ldap3.core.exceptions import LDAPObjectClassError

from connectors.ldap.ber import ASSERTION, POST_READ, attribute_selection
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.requests import (
    BASE_SCOPE,
    PAGED_RESULTS,
    Control,
    add_request,
    delete_request,
    modify_dn_request,
    modify_request,
    paged_control,
    search_request,
)
from connectors.ldap.responses import Entry, paged_cookie, read_back
from connectors.ldap.wire import Done, Request, Result, Wire

ADD, DELETE, REPLACE = 0, 1, 2
"""Modify operations (RFC 4511 section 4.6)."""
Changes = dict[str, list[tuple[int, list[str]]]]
NO_SUCH_OBJECT = 32
ASSERTION_FAILED = 122
READ_UUID: Control = (POST_READ, False, attribute_selection(["entryUUID"]))


class Session:
    def __init__(self, conn: object, wire: Wire) -> None:
        self._conn = conn
        self._wire = wire

    @property
    def socket(self) -> object:
        """The socket requests leave on (a password may go only on an encrypted one)."""
        return getattr(self._conn, "socket", None)

    def pipeline(self, requests: Sequence[Request], done: Done | None = None) -> list[Result]:
        """Send every request, several in flight at once, and return their results in order
        (telling ``done`` of each as it completes), without raising for a result code: each
        caller decides what its outcome means."""
        return self._send(requests, done)

    def _send(self, requests: Sequence[Request], done: Done | None = None) -> list[Result]:
        return self._wire.exchange(requests, done)

    def run(self, operation: str, dn: str, request: bytes, *controls: Control) -> Result:
        """One request; raises for any result but success (see :func:`check`)."""
        try:
            result = self._send([(request, controls)])[0]
        except ConnectionLostError as exc:
            raise ConnectionLostError(f"{operation} of '{dn}': {exc}") from exc
        check(operation, dn, result)
        return result

    def search(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[Entry]:
        """Entries in the subtree under ``base``; a missing base yields none."""
        return self.run("search", base, search_request(base, search_filter, attributes)).entries

    def search_many(
        self, base: str, filters: Sequence[str | bytes], attributes: Sequence[str]
    ) -> list[Entry]:
        """The entries of several searches under ``base``, sent at once (a long list of names
        is looked up in chunks, and the chunks need not wait for each other)."""
        requests = [(search_request(base, f, attributes), ()) for f in filters]
        try:
            results = self._send(requests)
        except ConnectionLostError as exc:
            raise ConnectionLostError(f"search of '{base}': {exc}") from exc
        for result in results:
            check("search", base, result)
        return [entry for result in results for entry in result.entries]

    def paged_search(
        self, base: str, search_filter: str, attributes: Sequence[str], page_size: int = 500
    ) -> Iterator[Entry]:
        """The whole subtree in pages (RFC 2696), so a directory of any size is read with
        bounded memory; a missing base yields nothing."""
        request = search_request(base, search_filter, attributes)
        cookie: bytes | None = None
        while True:
            result = self.run("search", base, request, paged_control(page_size, cookie))
            yield from result.entries
            value = result.controls.get(PAGED_RESULTS)
            cookie = paged_cookie(value) if value else None
            if not cookie:
                return

    def read(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        request = search_request(dn, "(objectClass=*)", attributes, scope=BASE_SCOPE)
        entries = self.run("search", dn, request).entries
        return entries[0] if entries else None

    def add(self, dn: str, object_classes: Sequence[str], attributes: dict[str, list[str]]) -> None:
        self.run("add", dn, add_request(dn, entry_attributes(object_classes, attributes)))

    def add_reading_uuid(
        self, dn: str, object_classes: Sequence[str], attributes: dict[str, list[str]]
    ) -> str:
        """Add an entry and return its ``entryUUID``, read back in the same round trip with the
        Post-Read control (RFC 4527); a server that ignores the control costs one read more."""
        request = add_request(dn, entry_attributes(object_classes, attributes))
        uuid = added_uuid(self.run("add", dn, request, READ_UUID))
        if uuid:
            return uuid
        entry = self.read(dn, ["entryUUID"])
        return entry.entry_uuid if entry else ""

    def modify(self, dn: str, changes: Changes) -> None:
        if changes:
            self.run("modify", dn, modify_request(dn, changes))

    def modify_if(self, dn: str, changes: Changes, assertion: bytes) -> bool:
        """Modify only if the entry matches ``assertion`` (a BER filter, RFC 4528); False when
        the entry is not there or does not match, so the caller can look closer."""
        try:
            self.run("modify", dn, modify_request(dn, changes), (ASSERTION, True, assertion))
        except LdapResultError as exc:
            if exc.code in (NO_SUCH_OBJECT, ASSERTION_FAILED):
                return False
            raise
        return True

    def move(self, dn: str, new_rdn: str, new_parent: str | None) -> None:
        self.run("modify-DN", dn, modify_dn_request(dn, new_rdn, True, new_parent))

    def delete(self, dn: str) -> None:
        self.run("delete", dn, delete_request(dn))


def check(operation: str, dn: str, result: Result) -> None:
    """Raise for any result but success (a search of a missing base just finds nothing)."""
    code = result.code
    if code != 0 and not (operation == "search" and code == NO_SUCH_OBJECT):
        raise LdapResultError(operation, dn, code, result.message)


def added_uuid(result: Result) -> str:
    """The ``entryUUID`` an add's Post-Read control returned, or "" if the server sent none."""
    value = result.controls.get(POST_READ)
    entry = read_back(value) if value else None
    return entry.entry_uuid if entry else ""


def entry_attributes(
    object_classes: Sequence[str], attributes: Mapping[str, Sequence[str | bytes]]
) -> dict[str, list[str | bytes]]:
    """The attributes of a new entry as ldap3 sent them: empty ones left out, the object
    classes last (merged into an ``objectClass`` already given, duplicates dropped)."""
    present = {k: list(v) for k, v in attributes.items() if v}
    name = next((k for k in present if k.lower() == "objectclass"), "objectClass")
    classes = list(dict.fromkeys([*object_classes, *present.get(name, [])]))
    if not classes:
        raise LDAPObjectClassError("objectClass attribute is mandatory")
    present[name] = classes
    return present
