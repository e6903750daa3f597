"""Connections to the directory: a small pool, failover across URLs, TLS that always verifies.

Thread safety comes from the pool, not from the ldap3 strategy: each ``apply`` borrows one
connection for its whole duration and hands it back through a queue, so no two threads ever
use one connection at a time. ldap3's plain SYNC strategy returns wrong responses only when
threads *share* a connection; its SAFE_SYNC variant exists for that case and deep-copies every
result and response to do it, which made it two to three times slower here (``bench_ldap``), so
the pooled connections use SYNC. A new connection tries the URLs in order; one that broke is
dropped, never reused. Timeouts are the kernel's (``SO_RCVTIMEO``/``SO_SNDTIMEO``) rather than
ldap3's ``receive_timeout``, which polls before every socket call.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import ssl
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ldap3 import (
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    SYNC,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from connectors.ldap.ber import ASSERTION, POST_READ, attribute_selection
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.settings import LdapSettings
from reconcile.errors import TargetUnavailableError

log = logging.getLogger(__name__)

ADD, DELETE, REPLACE = MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
Changes = dict[str, list[tuple[int, list[str]]]]
NO_SUCH_OBJECT = 32
PAGED_RESULTS = "1.2.840.113556.1.4.319"
ASSERTION_FAILED = 122


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as read: its DN and its attributes, keyed by lower-cased attribute type."""

    dn: str
    attributes: dict[str, list[str]]

    def get(self, attribute: str) -> list[str]:
        return self.attributes.get(attribute.lower(), [])

    @property
    def entry_uuid(self) -> str:
        values = self.get("entryUUID")
        return values[0] if values else ""


class Session:
    """One borrowed connection with typed operations that raise on any non-success result."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _call(self, operation: str, dn: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            method(*args, **kwargs)
        except LDAPCommunicationError as exc:
            raise ConnectionLostError(f"{operation} of '{dn}': {exc}") from exc
        result, response = self._conn.result, self._conn.response
        code = int(result["result"])
        if code != 0 and not (operation == "search" and code == NO_SUCH_OBJECT):
            raise LdapResultError(operation, dn, code, str(result.get("message") or ""))
        return response

    def search(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[Entry]:
        """Entries in the subtree under ``base``; a missing base yields none."""
        return self._entries(base, search_filter, attributes)

    def paged_search(
        self, base: str, search_filter: str, attributes: Sequence[str], page_size: int = 500
    ) -> Iterator[Entry]:
        """The whole subtree in pages (RFC 2696), so a directory of any size is read with
        bounded memory; a missing base yields nothing."""
        cookie: bytes | None = None
        while True:
            yield from self._entries(
                base, search_filter, attributes, paged_size=page_size, paged_cookie=cookie
            )
            controls = (self._conn.result or {}).get("controls") or {}
            cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
            if not cookie:
                return

    def _entries(
        self, base: str, search_filter: str, attributes: Sequence[str], **paging: Any
    ) -> list[Entry]:
        response = self._call(
            "search",
            base,
            self._conn.search,
            base,
            search_filter,
            search_scope=SUBTREE,
            attributes=list(attributes),
            **paging,
        )
        return [_entry(r) for r in response or [] if r.get("type") == "searchResEntry"]

    def read(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        response = self._call(
            "search",
            dn,
            self._conn.search,
            dn,
            "(objectClass=*)",
            search_scope=BASE,
            attributes=list(attributes),
        )
        entries = [_entry(r) for r in response or [] if r.get("type") == "searchResEntry"]
        return entries[0] if entries else None

    def add(self, dn: str, object_classes: Sequence[str], attributes: dict[str, list[str]]) -> None:
        present = {k: v for k, v in attributes.items() if v}
        self._call("add", dn, self._conn.add, dn, list(object_classes), present)

    def add_reading_uuid(
        self, dn: str, object_classes: Sequence[str], attributes: dict[str, list[str]]
    ) -> str:
        """Add an entry and return its ``entryUUID``, read back in the same round trip with the
        Post-Read control (RFC 4527); a server that ignores the control costs one read more."""
        present = {k: v for k, v in attributes.items() if v}
        control = (POST_READ, False, attribute_selection(["entryUUID"]))
        self._call("add", dn, self._conn.add, dn, list(object_classes), present, controls=[control])
        result = self._conn.result
        read_back = (result.get("controls") or {}).get(POST_READ) or {}
        values = {k.lower(): v for k, v in (read_back.get("value") or {}).get("result", {}).items()}
        uuid = values.get("entryuuid")
        if uuid:
            return str(uuid[0] if isinstance(uuid, list) else uuid)
        entry = self.read(dn, ["entryUUID"])
        return entry.entry_uuid if entry else ""

    def modify(self, dn: str, changes: Changes) -> None:
        if changes:
            self._call("modify", dn, self._conn.modify, dn, changes)

    def modify_if(self, dn: str, changes: Changes, assertion: bytes) -> bool:
        """Modify only if the entry matches ``assertion`` (a BER filter, RFC 4528); False when
        the entry is not there or does not match, so the caller can look closer."""
        control = (ASSERTION, True, assertion)
        try:
            self._call("modify", dn, self._conn.modify, dn, changes, controls=[control])
        except LdapResultError as exc:
            if exc.code in (NO_SUCH_OBJECT, ASSERTION_FAILED):
                return False
            raise
        return True

    def move(self, dn: str, new_rdn: str, new_parent: str | None) -> None:
        self._call(
            "modify-DN",
            dn,
            self._conn.modify_dn,
            dn,
            new_rdn,
            delete_old_dn=True,
            new_superior=new_parent,
        )

    def delete(self, dn: str) -> None:
        self._call("delete", dn, self._conn.delete, dn)


def _entry(response: dict[str, Any]) -> Entry:
    raw = response.get("raw_attributes") or {}
    attributes = {
        name.lower(): [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values
        ]
        for name, values in raw.items()
    }
    return Entry(str(response["dn"]), attributes)


class VerifiedTls(Tls):  # type: ignore[misc]
    """TLS through the standard library's verification: chain and host name, both required.

    ldap3's ``Tls()`` defaults to no verification at all, and its own host-name check relies on
    ``ssl.match_hostname``, deprecated and gone in Python 3.12; a default ``SSLContext`` with
    ``server_hostname`` does both checks during the handshake, for LDAPS and StartTLS alike.
    """

    def __init__(self, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self.context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)

    def wrap_socket(self, connection: Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )


class ConnectionPool:
    """Up to ``size`` bound connections, opened on demand and reused across runs."""

    def __init__(self, settings: LdapSettings, size: int) -> None:
        self._settings = settings
        timeout = settings.timeout.total_seconds()
        self._timeout = timeout
        self._tls = VerifiedTls(settings.tls_ca_file or None)
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=size)
        for url in settings.urls:
            if settings.password and not settings.starttls and _cleartext_remote(url):
                log.warning("ldap password would cross the network in clear", extra={"url": url})

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield Session(conn)
        except ConnectionLostError:
            _close(conn)
            raise
        except BaseException:
            self._give_back(conn)
            raise
        self._give_back(conn)

    def _give_back(self, conn: Connection) -> None:
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            _close(conn)

    def _open(self) -> Connection:
        """A bound connection to the first URL that answers; unavailable if none does."""
        failures = []
        for url in self._settings.urls:
            # A fresh Server each time: ldap3 remembers a refused address for a while and
            # would not try it again right after the directory came back.
            server = Server(
                url.rstrip("/"), get_info=NONE, connect_timeout=self._timeout, tls=self._tls
            )
            conn = Connection(
                server,
                user=self._settings.bind_dn or None,
                password=self._settings.password or None,
                client_strategy=SYNC,
                auto_bind="NONE",
                check_names=False,
                raise_exceptions=False,
                read_only=False,
            )
            try:
                self._connect(conn)
            except LdapResultError:
                _close(conn)
                raise
            except (TimeoutError, LDAPException, OSError) as exc:
                _close(conn)
                failures.append(f"{server.host}:{server.port}: {_reason(exc)}")
                log.warning(
                    "ldap server unreachable", extra={"server": server.host, "reason": _reason(exc)}
                )
                continue
            return conn
        raise TargetUnavailableError("no LDAP server answered: " + "; ".join(failures))

    def _connect(self, conn: Connection) -> None:
        conn.open()
        _set_timeouts(conn, self._timeout)
        if self._settings.starttls and not conn.server.ssl:
            conn.start_tls()
        if self._settings.bind_dn:
            conn.bind()
            result = conn.result
            code = int(result["result"])
            if code != 0:
                raise LdapResultError(
                    "bind", self._settings.bind_dn, code, result.get("message", "")
                )

    def close(self) -> None:
        while True:
            try:
                _close(self._idle.get_nowait())
            except queue.Empty:
                return


def _cleartext_remote(url: str) -> bool:
    """An ldap:// URL to a host other than this machine (no TLS unless StartTLS is on)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "ldap":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _set_timeouts(conn: Connection, seconds: float) -> None:
    """Bound every send and receive in the kernel: a hung server surfaces as a socket error."""
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def _close(conn: Connection) -> None:
    """Unbind politely; a broken connection may fail to, so its socket is closed regardless."""
    sock = getattr(conn, "socket", None)
    with suppress(Exception):
        conn.unbind()
    if sock is not None:
        with suppress(OSError):
            sock.close()
