"""A loopback TCP relay in front of the test DC that one test can freeze, cut and restore.

A test that needs the directory to stop answering cannot stop or freeze the shared DC itself:
other test processes use it at the same moment (the other xdist worker, test runs of other
checkouts whose copy of :mod:`tests.support.samba_dc` knows nothing of a pause), and each of them
holds it for a whole session, so waiting until they leave would wait for their whole run. So the
process under test reaches the DC through this relay, and only its connections see the outage:

- :meth:`DcRelay.freeze` is the DC frozen (SIGSTOP): connections stay open and new ones are
  accepted, but nothing is answered; requests already sent may have been carried out with
  their answers held back, as a DC that stops between doing a write and answering it;
- :meth:`DcRelay.cut` is the DC gone: every relayed connection is reset, and a new one is
  refused;
- :meth:`DcRelay.restore` is the DC back: new connections reach it again, and connections that
  were only frozen go on where they stopped.

The relay forwards octets and never looks at them (LDAPS is encrypted end to end; the DC's
certificate names 127.0.0.1, so verification passes through the relay unchanged).
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress
from enum import Enum

CHUNK = 1 << 16


class RelayState(Enum):
    OPEN = "open"
    FROZEN = "frozen"
    CUT = "cut"


class DcRelay:
    """Relays 127.0.0.1:<port> to ``upstream`` until :meth:`close`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = _listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._placeholder: socket.socket | None = None
        self._state = RelayState.OPEN
        self._changed = threading.Condition()
        self._links: list[tuple[socket.socket, socket.socket]] = []
        self._start_accepting()

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.port}"

    def freeze(self) -> None:
        self._set(RelayState.FROZEN)

    def cut(self) -> None:
        """Reset every connection and stop listening: a new one is refused, as by a machine
        where nothing listens on the port. The port stays reserved (``SO_REUSEPORT``, bound but
        not listening) so :meth:`restore` gets it back."""
        with self._changed:
            if self._state is RelayState.CUT:
                return
            self._state = RelayState.CUT
            links, self._links = self._links, []
            self._placeholder = _bind(self.port)
            listener = self._listener
            self._changed.notify_all()
        _stop_listening(listener)  # connections still waiting to be accepted are reset
        for client, server in links:
            _reset(client)
            _reset(server)

    def restore(self) -> None:
        with self._changed:
            if self._state is RelayState.CUT:
                self._listener = _listen(self.port)
                self._start_accepting()
                if self._placeholder is not None:
                    self._placeholder.close()
                    self._placeholder = None
            self._state = RelayState.OPEN
            self._changed.notify_all()

    def close(self) -> None:
        self.cut()
        if self._placeholder is not None:
            self._placeholder.close()

    def _set(self, state: RelayState) -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def _wait_unfrozen(self) -> RelayState:
        with self._changed:
            self._changed.wait_for(lambda: self._state is not RelayState.FROZEN)
            return self._state

    def _start_accepting(self) -> None:
        accepting = threading.Thread(
            target=self._accept, args=(self._listener,), name="dc-relay", daemon=True
        )
        accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # no longer listening
            # a frozen DC's kernel still completes the TCP handshake; its TLS handshake waits
            if self._wait_unfrozen() is RelayState.CUT:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._changed:
                if self._state is not RelayState.OPEN:
                    _reset(client)
                    _reset(server)
                    continue
                self._links.append((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Forward one direction; while frozen, what arrives waits (and so does the sender,
        once the kernel's buffers are full), as it would in a stopped process's socket."""
        try:
            while data := source.recv(CHUNK):
                if self._wait_unfrozen() is RelayState.CUT:
                    return
                sink.sendall(data)
        except OSError:
            pass
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # pass an orderly close on


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _listen(port: int) -> socket.socket:
    sock = _bind(port)
    sock.listen(64)
    return sock


def _stop_listening(listener: socket.socket) -> None:
    with suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
    listener.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (linger 0), after waking any thread blocked reading it."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    sock.close()
