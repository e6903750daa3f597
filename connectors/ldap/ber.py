"""The few BER encodings ldap3 does not build for us: control values for two RFC controls.

- Post-Read (RFC 4527): an ``AttributeSelection`` naming what to read back from an add.
- Assertion (RFC 4528): a search ``Filter`` the entry must match for a modify to happen.

Filters are encoded from raw values (RFC 4511 section 4.5.1.7), so no string escaping is
involved: a value containing ``*`` or ``)`` is just bytes here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

POST_READ = "1.3.6.1.1.13.2"
ASSERTION = "1.3.6.1.1.12"

_OCTET_STRING = 0x04
_SEQUENCE = 0x30
_AND, _NOT, _EQUALITY = 0xA0, 0xA2, 0xA3
_PRESENT = 0x87


def _length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def attribute_selection(names: Sequence[str]) -> bytes:
    """``AttributeSelection ::= SEQUENCE OF LDAPString`` (RFC 4511 section 4.5.1.8)."""
    return _tlv(_SEQUENCE, b"".join(_tlv(_OCTET_STRING, n.encode()) for n in names))


def equals(attribute: str, value: str) -> bytes:
    return _tlv(
        _EQUALITY, _tlv(_OCTET_STRING, attribute.encode()) + _tlv(_OCTET_STRING, value.encode())
    )


def present(attribute: str) -> bytes:
    return _tlv(_PRESENT, attribute.encode())


def all_of(filters: Iterable[bytes]) -> bytes:
    return _tlv(_AND, b"".join(filters))


def negate(filter_: bytes) -> bytes:
    return _tlv(_NOT, filter_)


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
