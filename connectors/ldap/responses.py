"""LDAP responses (RFC 4511 section 4) decoded straight into what the target needs.

ldap3's ``decode_message_fast`` builds a tuple for every element of every message and looks up a
decoder for each; reading a batch's entries ahead through it cost more than all the rest of an
update. The target needs little from a response — the message ID, the operation, an entry's
DN and attributes, a result code and message, the controls — so this reads exactly that,
walking the definite-length BER a server sends. ``tests/connectors/ldap/test_ldap_wire.py``
checks it against ldap3's decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.ldap.active_directory.anchors import GUID_ATTRIBUTE, AnchorError, anchor_from_guid
from connectors.ldap.ber import INTEGER, OCTET_STRING, SEQUENCE
from connectors.ldap.errors import ConnectionLostError

SEARCH_ENTRY, SEARCH_REFERENCE = 0x64, 0x73
_CONTROLS = 0xA0
MAX_MESSAGE = 16 * 1024 * 1024
"""Octets one message may hold at most: far above any entry this target reads (a group of
100,000 members is about 5 MiB), and low enough that a broken or hostile server cannot make the
connection buffer gigabytes waiting for a message that a lying length promised."""


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as read: its DN and its attributes, keyed by lower-cased attribute type."""

    dn: str
    attributes: dict[str, list[str]]

    def get(self, attribute: str) -> list[str]:
        return self.attributes.get(attribute.lower(), [])

    @property
    def entry_uuid(self) -> str:
        """The entry's anchor: ``entryUUID``, or AD's ``objectGUID`` (decoded as text by
        :func:`decode_entry`)."""
        values = self.get("entryUUID") or self.get(GUID_ATTRIBUTE)
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


class _MalformedError(ValueError):
    """Bytes that are not the BER the server must send; never leaves this module."""


def _element(data: bytes, i: int, limit: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the element at ``i``, which must end by
    ``limit``, the end of the element that holds it.

    Every element is checked against its parent, down from the message's own length, so a
    length that lies (by accident or on purpose) is caught where it lies instead of making the
    decoder read a neighbour's octets as its own, or past the end of the message."""
    size = data[i + 1]
    if size < 0x80:
        start = i + 2
        end = start + size
    else:
        count = size & 0x7F
        if not 0 < count <= 4:
            raise _MalformedError(f"a length of {count} octets")
        start = i + 2 + count
        end = start + int.from_bytes(data[i + 2 : start], "big")
    if end > limit:
        raise _MalformedError("an element runs past the element that holds it")
    return data[i], start, end


def _lost(exc: Exception) -> ConnectionLostError:
    """The one error bad octets become: the stream cannot be trusted any further, so the
    connection is dropped and the operation retried on a fresh one, as for a broken socket."""
    return ConnectionLostError(f"a malformed message from the server ({exc})")


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8", "replace")


_GUID = GUID_ATTRIBUTE.lower()


def _guids(data: bytes, start: int, end: int) -> list[str]:
    """AD's binary ``objectGUID`` values as the anchor text (the only binary value the target
    reads; decoding it as UTF-8 would lose it)."""
    _, j, values_end = _element(data, start, end)
    out = []
    while j < values_end:
        _, value_start, j = _element(data, j, values_end)
        try:
            out.append(anchor_from_guid(data[value_start:j]))
        except AnchorError as exc:
            raise _MalformedError(str(exc)) from exc
    return out


def decode_entry(data: bytes, start: int, end: int) -> Entry:
    """The content of a ``SearchResultEntry``: objectName, then the attributes.

    The hot loop of a read-ahead (every value of every entry), so a value in the short length
    form, as nearly all are, is read in place rather than through :func:`_element`; such a
    value that overruns its set is caught once the set's end is passed."""
    _, name_start, i = _element(data, start, end)
    dn = _text(data, name_start, i)
    _, i, attributes_end = _element(data, i, end)
    attributes: dict[str, list[str]] = {}
    while i < attributes_end:
        _, item_start, item_end = _element(data, i, attributes_end)
        _, type_start, type_end = _element(data, item_start, item_end)
        _, j, values_end = _element(data, type_end, item_end)
        values = []
        while j < values_end:
            size = data[j + 1]
            if size < 0x80:
                j += 2 + size
                values.append(data[j - size : j].decode("utf-8", "replace"))
            else:
                _, value_start, j = _element(data, j, values_end)
                values.append(_text(data, value_start, j))
        if j != values_end:
            raise _MalformedError("a value runs past its attribute")
        name = data[type_start:type_end].decode().lower()
        if name == _GUID:
            values = _guids(data, type_end, item_end)
        attributes[name] = values
        i = item_end
    return Entry(dn, attributes)


def decode_controls(data: bytes, start: int, end: int) -> dict[str, bytes]:
    """``Controls`` by OID, values still encoded (empty when the control has none)."""
    found: dict[str, bytes] = {}
    i = start
    while i < end:
        _, j, control_end = _element(data, i, end)
        _, oid_start, j = _element(data, j, control_end)
        oid = data[oid_start:j].decode()
        value = b""
        while j < control_end:
            tag, value_start, j = _element(data, j, control_end)
            if tag == OCTET_STRING:
                value = data[value_start:j]
        found[oid] = value
        i = control_end
    return found


def decode(data: bytes) -> Response:
    """One whole ``LDAPMessage``; a message that is not one breaks the stream."""
    try:
        return _decode(data)
    except (IndexError, ValueError) as exc:
        raise _lost(exc) from exc


def _decode(data: bytes) -> Response:
    if len(data) > MAX_MESSAGE:
        raise _MalformedError(f"{len(data)} octets, above the {MAX_MESSAGE} octets allowed")
    tag, i, end = _element(data, 0, len(data))
    if tag != SEQUENCE:
        raise _MalformedError(f"a message that is not a SEQUENCE (tag {tag:#x})")
    id_tag, id_start, id_end = _element(data, i, end)
    if id_tag != INTEGER:
        raise _MalformedError(f"a message ID that is not an INTEGER (tag {id_tag:#x})")
    operation, op_start, i = _element(data, id_end, end)
    response = Response(int.from_bytes(data[id_start:id_end], "big", signed=True), operation)
    if operation == SEARCH_ENTRY:
        response.entry = decode_entry(data, op_start, i)
    elif operation != SEARCH_REFERENCE:
        _, code_start, j = _element(data, op_start, i)
        response.code = int.from_bytes(data[code_start:j], "big")
        _, _, j = _element(data, j, i)  # matchedDN
        _, text_start, j = _element(data, j, i)
        response.message = _text(data, text_start, j)
    if i < end and data[i] == _CONTROLS:
        _, start, stop = _element(data, i, end)
        response.controls = decode_controls(data, start, stop)
    return response


def read_back(value: bytes) -> Entry | None:
    """The entry inside a Post-Read control value (a ``SearchResultEntry``, RFC 4527)."""
    if not value or value[0] != SEARCH_ENTRY:
        return None
    try:
        _, start, end = _element(value, 0, len(value))
        return decode_entry(value, start, end)
    except (IndexError, ValueError) as exc:
        raise _lost(exc) from exc


def paged_cookie(value: bytes) -> bytes:
    """The cookie of a paged-results response control (RFC 2696): ``SEQUENCE { size, cookie }``."""
    try:
        tag, i, end = _element(value, 0, len(value))
        _, _, i = _element(value, i, end)
        cookie_tag, start, stop = _element(value, i, end)
    except (IndexError, ValueError) as exc:
        raise _lost(exc) from exc
    if tag != SEQUENCE or cookie_tag != OCTET_STRING:
        raise _lost(_MalformedError("a paged-results value that is not SEQUENCE { size, cookie }"))
    return value[start:stop]
