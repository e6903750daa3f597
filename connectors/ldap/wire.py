"""Requests out and responses in on one bound connection, many in flight at once.

ldap3 opens the connection, negotiates TLS and binds; after that the target speaks on the
socket itself: requests encoded by :mod:`connectors.ldap.requests`, responses decoded by
ldap3's own hand-written BER reader (``decode_message_fast``, the one its strategies use), and
several requests sent before their responses are read, so the directory works on one while the
next is on its way. Responses are matched to requests by message ID (RFC 4511 section 4.1.1.1).

A broken socket, a short read or an unsolicited notice (message ID 0, such as a
notice of disconnection) raises :class:`ConnectionLostError`, and the wire is then marked
broken so its connection is never handed out again: its stream may be out of step.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ldap3.utils.asn1 import decode_message_fast, decode_sequence

from connectors.ldap.errors import ConnectionLostError
from connectors.ldap.requests import Control, message

WINDOW = 64
"""Requests in flight on one connection: enough to keep the server busy, few enough that
neither side's socket buffer fills while the other waits."""
_SEARCH_ENTRY, _SEARCH_REFERENCE = 4, 19
_MAX_ID = 2**31 - 1


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


class Wire:
    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._buffer = bytearray()
        self._last_id = 0
        self.broken = False

    def exchange(self, requests: Sequence[Request]) -> list[Result]:
        """Send ``requests`` (up to :data:`WINDOW` in flight) and return their results in the
        same order. Any failure of the transport leaves the wire broken."""
        if self.broken:
            raise ConnectionLostError("the connection broke earlier")
        self.broken = True  # until every response is in: the stream is out of step meanwhile
        try:
            results = self._exchange(requests)
        except OSError as exc:
            raise ConnectionLostError(str(exc) or type(exc).__name__) from exc
        self.broken = False
        return results

    def _exchange(self, requests: Sequence[Request]) -> list[Result]:
        results = [Result() for _ in requests]
        waiting: dict[int, int] = {}  # message ID -> position
        sent = done = 0
        while done < len(requests):
            if sent < len(requests) and len(waiting) < WINDOW:
                batch = []
                while sent < len(requests) and len(waiting) < WINDOW:
                    message_id = self._new_id()
                    operation, controls = requests[sent]
                    batch.append(message(message_id, operation, controls))
                    waiting[message_id] = sent
                    sent += 1
                self._socket.sendall(b"".join(batch))
            for message_id, op, payload, controls in self._read():
                position = waiting.get(message_id)
                if position is None:
                    raise ConnectionLostError(_unexpected(message_id, payload))
                result = results[position]
                if op == _SEARCH_ENTRY:
                    result.entries.append(_entry(payload))
                elif op != _SEARCH_REFERENCE:
                    result.code = int(payload[0][3])
                    result.message = bytes(payload[2][3]).decode("utf-8", "replace")
                    result.controls = _controls(controls)
                    del waiting[message_id]
                    done += 1
        return results

    def _new_id(self) -> int:
        self._last_id = self._last_id % _MAX_ID + 1
        return self._last_id

    def _read(self) -> list[tuple[int, int, Any, Any]]:
        """Every whole message received so far, reading once more if there is none yet."""
        buffer = self._buffer
        while True:
            decoded = []
            start = 0
            while len(buffer) - start >= 2:
                size, offset = _frame(buffer, start)
                if size < 0 or len(buffer) - start < offset + size:
                    break
                message = bytes(buffer[start : start + offset + size])
                start += offset + size
                parts = decode_message_fast(message)
                decoded.append(
                    (parts["messageID"], parts["protocolOp"], parts["payload"], parts["controls"])
                )
            del buffer[:start]
            if decoded:
                return decoded
            chunk = self._socket.recv(1 << 18)
            if not chunk:
                raise ConnectionLostError("the server closed the connection")
            buffer += chunk


def _frame(buffer: bytearray, start: int) -> tuple[int, int]:
    """(content length, header length) of the message at ``start``; (-1, 0) if the header is
    not all there yet."""
    first = buffer[start + 1]
    if first < 0x80:
        return first, 2
    count = first & 0x7F
    if len(buffer) - start < 2 + count:
        return -1, 0
    return int.from_bytes(buffer[start + 2 : start + 2 + count], "big"), 2 + count


def _entry(payload: Any) -> Entry:
    attributes = {
        bytes(attribute[3][0][3]).decode().lower(): [
            bytes(value[3]).decode("utf-8", "replace") for value in attribute[3][1][3]
        ]
        for attribute in payload[1][3]
    }
    return Entry(bytes(payload[0][3]).decode("utf-8", "replace"), attributes)


def _controls(controls: Any) -> dict[str, bytes]:
    """Response controls by OID; a control without a value maps to empty bytes."""
    found: dict[str, bytes] = {}
    for control in controls or []:
        parts = control[3]
        oid = bytes(parts[0][3]).decode()
        value = parts[-1][3] if len(parts) > 1 and parts[-1][2] == 4 else b""
        found[oid] = bytes(value)
    return found


def read_back(value: bytes) -> Entry | None:
    """The entry inside a Post-Read control value (a ``SearchResultEntry``, RFC 4527)."""
    decoded = decode_sequence(value, 0, len(value))
    return _entry(decoded[0][3]) if decoded else None


def paged_cookie(value: bytes) -> bytes:
    """The cookie of a paged-results response control (RFC 2696)."""
    decoded = decode_sequence(value, 0, len(value))
    return bytes(decoded[0][3][1][3])


def _unexpected(message_id: int, payload: Any) -> str:
    if message_id == 0:
        try:
            text = bytes(payload[2][3]).decode("utf-8", "replace")
        except (IndexError, TypeError):
            text = ""
        return f"the server ended the session{': ' + text if text else ''}"
    return f"a response to a request never sent (message ID {message_id})"
