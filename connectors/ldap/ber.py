"""BER building blocks for the requests scim-sync sends, and two RFC control values.

ldap3 builds every request as pyasn1 objects and encodes them with pyasn1, which costs more
Python time per operation than the directory spends on it; the few request shapes the target
sends are simple enough to encode directly (:mod:`connectors.ldap.requests`). Encodings are
definite-length with minimal length octets and a ``TRUE`` of ``0xFF``, exactly as ldap3 sends
them (``tests/connectors/ldap/test_ldap_requests.py`` compares the bytes).

- Post-Read (RFC 4527): an ``AttributeSelection`` naming what to read back from an add.
- Assertion (RFC 4528): a search ``Filter`` the entry must match for a modify to happen.

Filters are encoded from raw values (RFC 4511 section 4.5.1.7), so no string escaping is
involved: a value containing ``*`` or ``)`` is just bytes here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

POST_READ = "1.3.6.1.1.13.2"
ASSERTION = "1.3.6.1.1.12"

BOOLEAN, INTEGER, OCTET_STRING, ENUMERATED = 0x01, 0x02, 0x04, 0x0A
SEQUENCE, SET = 0x30, 0x31
_AND, _OR, _NOT, _EQUALITY = 0xA0, 0xA1, 0xA2, 0xA3
_PRESENT = 0x87

_SHORT_LENGTHS = [bytes([n]) for n in range(0x80)]


def length(size: int) -> bytes:
    """Definite length octets: short form below 128, else the fewest big-endian octets."""
    if size < 0x80:
        return _SHORT_LENGTHS[size]
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    return bytes([tag]) + length(size) + content


def octets(value: str | bytes, tag: int = OCTET_STRING) -> bytes:
    """An OCTET STRING (``LDAPString``, ``LDAPDN``, values): text is sent as UTF-8."""
    return tlv(tag, value.encode() if isinstance(value, str) else value)


def integer(value: int, tag: int = INTEGER) -> bytes:
    """Minimal two's complement, as DER and pyasn1 write it."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def boolean(value: bool, tag: int = BOOLEAN) -> bytes:
    return bytes((tag, 1, 0xFF if value else 0x00))


def sequence(parts: Iterable[bytes], tag: int = SEQUENCE) -> bytes:
    return tlv(tag, b"".join(parts))


def attribute_selection(names: Sequence[str]) -> bytes:
    """``AttributeSelection ::= SEQUENCE OF LDAPString`` (RFC 4511 section 4.5.1.8)."""
    return sequence(octets(n) for n in names)


def equals(attribute: str, value: str | bytes) -> bytes:
    return tlv(_EQUALITY, octets(attribute) + octets(value))


def present(attribute: str) -> bytes:
    return tlv(_PRESENT, attribute.encode())


def all_of(filters: Iterable[bytes]) -> bytes:
    return tlv(_AND, b"".join(filters))


def any_of(filters: Iterable[bytes]) -> bytes:
    return tlv(_OR, b"".join(filters))


def negate(filter_: bytes) -> bytes:
    return tlv(_NOT, filter_)


def holds_exactly(values: dict[str, list[str]]) -> bytes:
    """A filter true when every wanted value is present and every attribute wanted absent is
    absent (by the server's matching rules; extra values are not detected, so a caller that
    sees the filter true must still compare exactly before concluding "unchanged")."""
    parts: list[bytes] = []
    for attribute, wanted in values.items():
        if wanted:
            parts.extend(equals(attribute, v) for v in wanted)
        else:
            parts.append(negate(present(attribute)))
    return all_of(parts)
