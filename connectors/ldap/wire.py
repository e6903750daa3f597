"""Requests out and responses in on one bound connection, many in flight at once.

ldap3 opens the connection, negotiates TLS and binds; after that the target speaks on the
socket itself: requests encoded by :mod:`connectors.ldap.requests`, responses decoded by
:mod:`connectors.ldap.responses`, and several requests sent before their responses are read, so
the directory works on one while the next is on its way. Responses are matched to requests
by message ID (RFC 4511 section 4.1.1.1).

A broken socket, a short read, octets that are not a well-formed message (or one above
16 MiB) or an unsolicited notice (message ID 0, such as a notice of disconnection) raises
:class:`ConnectionLostError`, and the wire is then marked
broken so its connection is never handed out again: its stream may be out of step.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.ldap.errors import ConnectionLostError
from connectors.ldap.requests import Control, message
from connectors.ldap.responses import MAX_MESSAGE, SEARCH_REFERENCE, Entry, Response, decode

WINDOW = 256
"""Requests in flight on one connection at most: several milliseconds of the server's work, so
it stays busy while this process's threads take turns with the interpreter. More are sent only
once half of the window (in requests and in octets) is free, many in one send, rather than one
send per answer."""
WINDOW_BYTES = 32 * 1024
"""Request octets in flight at most (one request always goes): far below any socket buffer,
so a send never waits for the server to read while the server waits for this process to read
its answers (long OR-filters, or adds, would otherwise fill both directions at once)."""
_MAX_ID = 2**31 - 1
_READ_SIZE = 1 << 18
"""Octets read at most at once, into a buffer kept for the connection: ``recv`` of this size
would allocate (and, above the allocator's threshold, map and unmap) a new buffer every time,
which cost more than the read itself when responses arrive one or two at a time."""


@dataclass(slots=True)
class Result:
    """The outcome of one request: result code and message, entries of a search, and the
    response controls by OID (their values still BER-encoded)."""

    code: int = -1
    message: str = ""
    entries: list[Entry] = field(default_factory=list)
    controls: dict[str, bytes] = field(default_factory=dict)


Request = tuple[bytes, Sequence[Control]]
"""An encoded protocol operation and its request controls."""
Done = Callable[[int, Result], None]
"""Told each result as soon as it is complete, with the request's position."""


class Wire:
    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._buffer = bytearray()
        self._chunk = memoryview(bytearray(_READ_SIZE))
        self._last_id = 0
        self.broken = False

    def exchange(self, requests: Sequence[Request], done: Done | None = None) -> list[Result]:
        """Send ``requests`` (up to :data:`WINDOW` in flight) and return their results in the
        same order, telling ``done`` of each as it completes. Any failure of the transport
        leaves the wire broken."""
        if self.broken:
            raise ConnectionLostError("the connection broke earlier")
        self.broken = True  # until every response is in: the stream is out of step meanwhile
        try:
            results = self._exchange(requests, done)
        except OSError as exc:
            raise ConnectionLostError(str(exc) or type(exc).__name__) from exc
        self.broken = False
        return results

    def _exchange(self, requests: Sequence[Request], done: Done | None) -> list[Result]:
        results = [Result() for _ in requests]
        waiting: dict[int, tuple[int, int]] = {}  # message ID -> (position, octets)
        sent = complete = in_flight = 0
        upcoming: tuple[int, bytes] | None = None  # encoded, waiting for room in the window
        while complete < len(requests):
            batch = []
            # in bulk, once half the window is free: one send for many requests
            refill = len(waiting) <= WINDOW // 2 and in_flight <= WINDOW_BYTES // 2
            while refill and sent < len(requests) and len(waiting) < WINDOW:
                if upcoming is None:
                    message_id = self._new_id()
                    upcoming = (message_id, message(message_id, *requests[sent]))
                message_id, encoded = upcoming
                if waiting and in_flight + len(encoded) > WINDOW_BYTES:
                    break
                upcoming = None
                batch.append(encoded)
                waiting[message_id] = (sent, len(encoded))
                in_flight += len(encoded)
                sent += 1
            if batch:
                self._socket.sendall(b"".join(batch))
            for response in self._read():
                position, octets = waiting.get(response.message_id, (-1, 0))
                if position < 0:
                    raise ConnectionLostError(_unexpected(response))
                result = results[position]
                if response.entry is not None:
                    result.entries.append(response.entry)
                elif response.operation != SEARCH_REFERENCE:
                    result.code = response.code
                    result.message = response.message
                    result.controls = response.controls
                    del waiting[response.message_id]
                    in_flight -= octets
                    complete += 1
                    if done is not None:
                        done(position, result)
        return results

    def _new_id(self) -> int:
        self._last_id = self._last_id % _MAX_ID + 1
        return self._last_id

    def _read(self) -> list[Response]:
        """Every whole message received so far, reading once more if there is none yet."""
        buffer = self._buffer
        while True:
            decoded = []
            start = 0
            while len(buffer) - start >= 2:
                size, offset = _frame(buffer, start)
                if size < 0 or len(buffer) - start < offset + size:
                    break
                decoded.append(decode(bytes(buffer[start : start + offset + size])))
                start += offset + size
            del buffer[:start]
            if decoded:
                return decoded
            size = self._socket.recv_into(self._chunk)
            if not size:
                raise ConnectionLostError("the server closed the connection")
            buffer += self._chunk[:size]


def _frame(buffer: bytearray, start: int) -> tuple[int, int]:
    """(content length, header length) of the message at ``start``; (-1, 0) if the header is
    not all there yet.

    A length above :data:`MAX_MESSAGE` is refused as soon as its header is in, before any of
    the promised octets are waited for or buffered."""
    if buffer[start] != 0x30:
        raise ConnectionLostError("a malformed message from the server (not a SEQUENCE)")
    first = buffer[start + 1]
    if first < 0x80:
        return first, 2
    count = first & 0x7F
    if not 0 < count <= 4:
        raise ConnectionLostError(
            f"a malformed message from the server (a length of {count} octets)"
        )
    if len(buffer) - start < 2 + count:
        return -1, 0
    size = int.from_bytes(buffer[start + 2 : start + 2 + count], "big")
    if 2 + count + size > MAX_MESSAGE:
        raise ConnectionLostError(
            f"a message of {2 + count + size} octets from the server, "
            f"above the {MAX_MESSAGE} allowed"
        )
    return size, 2 + count


def _unexpected(response: Response) -> str:
    if response.message_id == 0:
        text = response.message
        return f"the server ended the session{': ' + text if text else ''}"
    return f"a response to a request never sent (message ID {response.message_id})"
