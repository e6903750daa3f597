"""Connections to the directory: a small pool, failover across URLs, TLS that always verifies.

ldap3 opens each connection, negotiates TLS and binds; the target then speaks on its socket
through a :class:`connectors.ldap.wire.Wire` (requests encoded here, not by pyasn1). Thread
safety comes from the pool: each ``apply`` borrows one connection for its whole duration and
hands it back through a queue, so no two threads ever use one connection at a time. A new
connection tries the URLs in order; one that broke, or whose stream may be out of step, is
dropped, never reused. Timeouts are the kernel's (``SO_RCVTIMEO``/``SO_SNDTIMEO``), so a hung
server surfaces as a socket error on any send or receive.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from ldap3 import NONE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.responses import Entry
from connectors.ldap.session import ADD, DELETE, REPLACE, Changes, Session
from connectors.ldap.settings import LdapSettings
from connectors.ldap.wire import Wire
from reconcile.errors import TargetUnavailableError

log = logging.getLogger(__name__)

__all__ = ["ADD", "DELETE", "REPLACE", "Changes", "ConnectionPool", "Entry", "Session"]


@dataclass(slots=True)
class _Link:
    """A bound ldap3 connection and the wire the target speaks on over its socket."""

    conn: Connection
    wire: Wire


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
        # Two more than the applies in flight: a batch reads ahead on one and writes on another
        # (batch.py).
        self._idle: queue.LifoQueue[_Link] = queue.LifoQueue(maxsize=size + 2)
        for url in settings.cleartext_urls():  # allowed by SCIM_SYNC_LDAP_ALLOW_CLEARTEXT
            log.warning("ldap password would cross the network in clear", extra={"url": url})

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            link = self._idle.get_nowait()
        except queue.Empty:
            link = _Link(conn := self._open(), Wire(conn.socket))
        try:
            yield Session(link.conn, link.wire)
        except ConnectionLostError:
            _close(link.conn)
            raise
        except BaseException:
            self._give_back(link)
            raise
        self._give_back(link)

    def _give_back(self, link: _Link) -> None:
        """Back to the idle ones, unless its stream broke (or the pool is full)."""
        if link.wire.broken:
            _close(link.conn)
            return
        try:
            self._idle.put_nowait(link)
        except queue.Full:
            _close(link.conn)

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
                _close(self._idle.get_nowait().conn)
            except queue.Empty:
                return


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
