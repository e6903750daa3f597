"""RFC 4515 filter strings to BER (RFC 4511 section 4.5.1.7), read the way ldap3 reads them.

The target builds its filters as strings with escaped values (:func:`directory.eq`); this turns
them into the bytes ldap3 used to send for the same string, so moving the encoding out of
ldap3 changes nothing the server sees. ldap3's reading has a few habits worth keeping for that
reason: spaces around an assertion's attribute and value are dropped, a value holding a stray
backslash is escaped as a whole, and ``\\XX`` hex pairs become the octet they name.
"""

from __future__ import annotations

import re
import string

from ldap3.core.exceptions import LDAPInvalidFilterError

from connectors.ldap.ber import octets, sequence, tlv

_AND, _OR, _NOT = 0xA0, 0xA1, 0xA2
_EQUALITY, _SUBSTRINGS, _GREATER, _LESS, _PRESENT, _APPROX, _EXTENSIBLE = (
    0xA3,
    0xA4,
    0xA5,
    0xA6,
    0x87,
    0xA8,
    0xA9,
)
_WHITESPACE = frozenset(string.whitespace)
_UNESCAPED = re.compile(r"\\([^0-9a-fA-F]|(.[^0-9a-fA-F]))")
_HEX_PAIR = re.compile(rb"\\([0-9a-fA-F]{2})")


def compile_filter(text: str) -> bytes:
    """The BER ``Filter`` for ``text``; ``LDAPInvalidFilterError`` if it is not well formed
    (classified like any refusal by the library: permanent)."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")") and text.count("(") == text.count(")")):
        raise LDAPInvalidFilterError("invalid filter")
    encoded, end = _filter(text, 0)
    if _skip(text, end) != len(text):
        raise LDAPInvalidFilterError("missing boolean operator in filter")
    return encoded


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _filter(text: str, pos: int) -> tuple[bytes, int]:
    pos = _skip(text, pos)
    if pos >= len(text) or text[pos] != "(":
        raise LDAPInvalidFilterError("malformed filter")
    pos = _skip(text, pos + 1)
    operator = text[pos] if pos < len(text) else ""
    if operator in ("&", "|", "!"):
        parts: list[bytes] = []
        pos += 1
        while True:
            pos = _skip(text, pos)
            if pos < len(text) and text[pos] == ")":
                break
            part, pos = _filter(text, pos)
            parts.append(part)
        if not parts or (operator == "!" and len(parts) > 1):
            raise LDAPInvalidFilterError("malformed filter")
        tag = {"&": _AND, "|": _OR, "!": _NOT}[operator]
        return tlv(tag, b"".join(parts)), pos + 1
    end = text.find(")", pos)
    if end < 0 or "(" in text[pos:end] or end == pos:
        raise LDAPInvalidFilterError("malformed filter")
    return _assertion(text[pos:end]), end + 1


def _value(value: str) -> bytes:
    """An assertion value as ldap3 sends it: escapes decoded, a stray backslash kept."""
    if "\\" in value and _UNESCAPED.search(value):
        value = value.replace("\\", "\\5c")
    raw = value.encode()
    if b"\\" not in raw:
        return raw
    return _HEX_PAIR.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _assertion(match: str) -> bytes:
    left, equal, right = match.strip().partition("=")
    if not equal:
        raise LDAPInvalidFilterError("invalid matching assertion")
    for suffix, tag in (("~", _APPROX), (">", _GREATER), ("<", _LESS)):
        if left.endswith(suffix):
            return tlv(tag, octets(left[:-1].strip()) + octets(_value(right.strip())))
    if left.endswith(":"):
        return _extensible(left[:-1].strip(), right.strip())
    if right == "*":
        return tlv(_PRESENT, left.strip().encode())
    if "*" in right:
        pieces = right.strip().split("*")
        parts = [octets(_value(pieces[0]), 0x80)] if pieces[0] else []
        parts += [octets(_value(p), 0x81) for p in pieces[1:-1] if p]
        if pieces[-1]:
            parts.append(octets(_value(pieces[-1]), 0x82))
        return tlv(_SUBSTRINGS, octets(left.strip()) + sequence(parts))
    return tlv(_EQUALITY, octets(left.strip()) + octets(_value(right.strip())))


def _extensible(left: str, value: str) -> bytes:
    """``attr[:dn][:rule]:=value`` or ``[:dn]:rule:=value`` (RFC 4515 section 3)."""
    pieces = left.split(":")
    dn = len(pieces) > 1 and pieces[1].lower().strip() == "dn"
    attribute, rule = "", ""
    if pieces[0] == "":
        if len(pieces) == 2 and not dn:
            rule = pieces[1]
        elif len(pieces) == 3 and dn:
            rule = pieces[2]
        else:
            raise LDAPInvalidFilterError("invalid extensible filter")
    elif len(pieces) <= 3:
        attribute = pieces[0]
        if len(pieces) == 2 and not dn:
            rule = pieces[1]
        elif len(pieces) == 3:
            if not dn:
                raise LDAPInvalidFilterError("invalid extensible filter")
            rule = pieces[2]
    else:
        raise LDAPInvalidFilterError("invalid extensible filter")
    attribute, rule = attribute.strip(), rule.strip()
    if not attribute and not rule:
        raise LDAPInvalidFilterError("invalid extensible filter")
    body = octets(rule, 0x81) if rule else b""
    body += octets(attribute, 0x82) if attribute else b""
    body += octets(_value(value), 0x83)
    if dn:
        body += bytes((0x84, 1, 0xFF))
    return tlv(_EXTENSIBLE, body)
