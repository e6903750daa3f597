"""The LDAP requests the target sends, encoded directly as BER (RFC 4511 section 4).

Each function returns one whole ``LDAPMessage``, byte for byte what ldap3 would send for the
same call (``tests/connectors/ldap/test_ldap_requests.py`` checks that against ldap3 and
pyasn1), at a small fraction of its cost: the target's speed was bounded by ldap3 building and
encoding every request with pyasn1, not by the directory. Connecting, TLS and bind stay with
ldap3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.ldap.ber import (
    ENUMERATED,
    SET,
    boolean,
    integer,
    octets,
    sequence,
    tlv,
)
from connectors.ldap.filters import compile_filter

Control = tuple[str, bool, bytes | None]
"""(OID, criticality, value) — the shape ldap3 takes controls in."""
Changes = Mapping[str, Sequence[tuple[int, Sequence[str]]]]

PAGED_RESULTS = "1.2.840.113556.1.4.319"
BASE_SCOPE, SUBTREE_SCOPE = 0, 2
DEREF_ALWAYS = 3

_SEARCH, _MODIFY, _ADD, _DELETE, _MODIFY_DN = 0x63, 0x66, 0x68, 0x4A, 0x6C
_CONTROLS = 0xA0
_NEW_SUPERIOR = 0x80


def _control(control: Control) -> bytes:
    oid, critical, value = control
    body = octets(oid)
    if critical:  # DEFAULT FALSE: absent when false
        body += boolean(True)
    if value is not None:
        body += octets(value)
    return sequence([body])


def message(message_id: int, operation: bytes, controls: Sequence[Control] = ()) -> bytes:
    """``LDAPMessage ::= SEQUENCE { messageID, protocolOp, controls [0] OPTIONAL }``."""
    body = integer(message_id) + operation
    if controls:
        body += sequence((_control(c) for c in controls), _CONTROLS)
    return sequence([body])


def _values(values: Sequence[str | bytes]) -> bytes:
    return sequence((octets(v) for v in values), SET)


def add_request(dn: str, attributes: Mapping[str, Sequence[str | bytes]]) -> bytes:
    """``AddRequest ::= [APPLICATION 8] SEQUENCE { entry, attributes }``."""
    items = (sequence([octets(name) + _values(vals)]) for name, vals in attributes.items())
    return tlv(_ADD, octets(dn) + sequence(items))


def modify_request(dn: str, changes: Changes) -> bytes:
    """``ModifyRequest ::= [APPLICATION 6] SEQUENCE { object, changes }``, one change per
    (attribute, operation) in the order given."""
    items = (
        sequence([integer(operation, ENUMERATED) + sequence([octets(name) + _values(vals)])])
        for name, operations in changes.items()
        for operation, vals in operations
    )
    return tlv(_MODIFY, octets(dn) + sequence(items))


def modify_dn_request(dn: str, new_rdn: str, delete_old: bool, new_superior: str | None) -> bytes:
    """``ModifyDNRequest ::= [APPLICATION 12] SEQUENCE { entry, newrdn, deleteoldrdn,
    newSuperior [0] OPTIONAL }``."""
    body = octets(dn) + octets(new_rdn) + boolean(delete_old)
    if new_superior:
        body += octets(new_superior, _NEW_SUPERIOR)
    return tlv(_MODIFY_DN, body)


def delete_request(dn: str) -> bytes:
    """``DelRequest ::= [APPLICATION 10] LDAPDN``."""
    return octets(dn, _DELETE)


def search_request(
    base: str,
    search_filter: str | bytes,
    attributes: Sequence[str],
    scope: int = SUBTREE_SCOPE,
) -> bytes:
    """``SearchRequest ::= [APPLICATION 3] SEQUENCE { ... }`` with ldap3's defaults: aliases
    always dereferenced, no size or time limit, values wanted. The filter is a string (RFC 4515)
    or an already encoded BER filter."""
    encoded = compile_filter(search_filter) if isinstance(search_filter, str) else search_filter
    body = (
        octets(base)
        + integer(scope, ENUMERATED)
        + integer(DEREF_ALWAYS, ENUMERATED)
        + b"\x02\x01\x00\x02\x01\x00"  # sizeLimit 0, timeLimit 0
        + boolean(False)
        + encoded
        + sequence(octets(a) for a in (attributes or ["1.1"]))
    )
    return tlv(_SEARCH, body)


def paged_control(size: int, cookie: bytes | None) -> Control:
    """Simple paged results (RFC 2696), not critical, as ldap3 sends it."""
    return (PAGED_RESULTS, False, sequence([integer(size) + octets(cookie or b"")]))
