"""LDAP responses (RFC 4511 section 4) decoded straight into what the target needs.

ldap3's ``decode_message_fast`` builds a tuple for every element of every message and looks up a
decoder for each; reading a batch's entries ahead through it cost more than all the rest of an
update. The target needs little from a response — the message ID, the operation, an entry's
DN and attributes, a result code and message, the controls — so this reads exactly that,
walking the definite-length BER a server sends. ``tests/unit/test_ldap_wire.py`` checks it
against ldap3's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.ldap.errors import ConnectionLostError

SEARCH_ENTRY, SEARCH_REFERENCE = 0x64, 0x73
_CONTROLS = 0xA0


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
class Response:
    """One decoded message: a search entry, a search reference, or a result."""

    message_id: int
    operation: int
    entry: Entry | None = None
    code: int = -1
    message: str = ""
    controls: dict[str, bytes] = field(default_factory=dict)


def _element(data: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the element at ``i``."""
    size = data[i + 1]
    if size < 0x80:
        return data[i], i + 2, i + 2 + size
    count = size & 0x7F
    start = i + 2 + count
    return data[i], start, start + int.from_bytes(data[i + 2 : start], "big")


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8", "replace")


def decode_entry(data: bytes, start: int, end: int) -> Entry:
    """The content of a ``SearchResultEntry``: objectName, then the attributes.

    The hot loop of a read-ahead (every value of every entry), so a value in the short length
    form, as nearly all are, is read in place rather than through :func:`_element`."""
    _, name_start, i = _element(data, start)
    dn = _text(data, name_start, i)
    _, i, attributes_end = _element(data, i)
    attributes: dict[str, list[str]] = {}
    while i < attributes_end:
        _, item_start, item_end = _element(data, i)
        _, type_start, type_end = _element(data, item_start)
        _, j, values_end = _element(data, type_end)
        values = []
        while j < values_end:
            size = data[j + 1]
            if size < 0x80:
                j += 2 + size
                values.append(data[j - size : j].decode("utf-8", "replace"))
            else:
                _, value_start, j = _element(data, j)
                values.append(_text(data, value_start, j))
        attributes[data[type_start:type_end].decode().lower()] = values
        i = item_end
    return Entry(dn, attributes)


def decode_controls(data: bytes, start: int, end: int) -> dict[str, bytes]:
    """``Controls`` by OID, values still encoded (empty when the control has none)."""
    found: dict[str, bytes] = {}
    i = start
    while i < end:
        _, j, control_end = _element(data, i)
        _, oid_start, j = _element(data, j)
        oid = data[oid_start:j].decode()
        value = b""
        while j < control_end:
            tag, value_start, j = _element(data, j)
            if tag == 0x04:
                value = data[value_start:j]
        found[oid] = value
        i = control_end
    return found


def decode(data: bytes) -> Response:
    """One whole ``LDAPMessage``; a message that is not one breaks the stream."""
    try:
        tag, i, end = _element(data, 0)
        _, id_start, i = _element(data, i)
        response = Response(int.from_bytes(data[id_start:i], "big", signed=True), data[i])
        operation, op_start, i = _element(data, i)
        if operation == SEARCH_ENTRY:
            response.entry = decode_entry(data, op_start, i)
        elif operation != SEARCH_REFERENCE:
            _, code_start, j = _element(data, op_start)
            response.code = int.from_bytes(data[code_start:j], "big")
            _, _, j = _element(data, j)  # matchedDN
            _, text_start, j = _element(data, j)
            response.message = _text(data, text_start, j)
        if i < end and data[i] == _CONTROLS:
            _, start, stop = _element(data, i)
            response.controls = decode_controls(data, start, stop)
    except IndexError as exc:
        raise ConnectionLostError("a malformed message from the server") from exc
    if tag != 0x30:
        raise ConnectionLostError("a malformed message from the server")
    return response


def read_back(value: bytes) -> Entry | None:
    """The entry inside a Post-Read control value (a ``SearchResultEntry``, RFC 4527)."""
    if not value or value[0] != SEARCH_ENTRY:
        return None
    _, start, end = _element(value, 0)
    return decode_entry(value, start, end)


def paged_cookie(value: bytes) -> bytes:
    """The cookie of a paged-results response control (RFC 2696): ``SEQUENCE { size, cookie }``."""
    _, i, _ = _element(value, 0)
    _, _, i = _element(value, i)
    _, start, end = _element(value, i)
    return value[start:end]
