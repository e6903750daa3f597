"""Distinguished names and search filters built from untrusted values, escaped exactly.

Entra's display names reach LDAP as RDN values and filter values (``R&D, "Core" + Ops #1``), so
both directions must be exact: :func:`escape_dn_value` follows RFC 4514 section 2.4 and
:func:`parse_dn` undoes it (hex pairs included, as servers may return them); the filter escape
follows RFC 4515 section 3. DNs are compared by :func:`dn_key`, never as raw strings, because a
server may hand back a DN escaped differently from the way it was written.
"""

from __future__ import annotations

import re

from connectors.ldap.matching import fold

_DN_SPECIAL = frozenset(',+"\\<>;=')
_VALUE_END = re.compile(r"[,+\\]")
"""Where a value may end (``,`` or ``+``) or needs unescaping (``\\``)."""
_FILTER_SPECIAL = frozenset("*()\\\x00")


class DnSyntaxError(ValueError):
    """A DN that does not follow RFC 4514 (only raised for DNs a server or operator supplied)."""


def escape_dn_value(value: str) -> str:
    """One attribute value as it may appear in an RDN (RFC 4514 section 2.4).

    Non-ASCII characters stay as UTF-8 (allowed by the RFC and kept readable); NUL and the
    characters the RFC names are escaped, as are a leading ``#`` or space and a trailing space.
    """
    out = []
    last = len(value) - 1
    for i, char in enumerate(value):
        if char in _DN_SPECIAL:
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        elif (char == " " and (i == 0 or i == last)) or (char == "#" and i == 0):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def escape_filter_value(value: str) -> str:
    """A value for an equality filter (RFC 4515 section 3): ``* ( ) \\ NUL`` as hex escapes,
    and so are white space and control characters (as their UTF-8 octets).

    The escapes of white space keep the value exact: a filter reader (ldap3's, and
    :mod:`connectors.ldap.filters`, which reads the same way) drops bare spaces around a value,
    so ``alice `` would otherwise be searched for as ``alice``.
    """
    plain = value.isprintable() and not value[:1].isspace() and not value[-1:].isspace()
    if plain and not any(c in _FILTER_SPECIAL for c in value):
        return value
    return "".join(_escape_filter_char(c) for c in value)


def _escape_filter_char(char: str) -> str:
    if char in _FILTER_SPECIAL or char.isspace() or not char.isprintable():
        return "".join(f"\\{octet:02x}" for octet in char.encode())
    return char


def rdn(attribute: str, value: str) -> str:
    return f"{attribute}={escape_dn_value(value)}"


Rdn = tuple[tuple[str, str], ...]
"""One RDN: its (attribute type, value) pairs; more than one for a multi-valued RDN."""


def parse_dn(dn: str) -> list[Rdn]:
    """``uid=a\\,b,ou=people`` → ``[(("uid", "a,b"),), (("ou", "people"),)]``.

    Raises :class:`DnSyntaxError` for a DN that is not well formed.
    """
    rdns: list[Rdn] = []
    current: list[tuple[str, str]] = []
    i, n = 0, len(dn)
    while i < n:
        eq = dn.find("=", i)
        if eq < 0:
            raise DnSyntaxError(f"'{dn}': attribute type without '=' at {i}")
        attribute = dn[i:eq].strip()
        if not attribute or "," in attribute or "+" in attribute:
            raise DnSyntaxError(f"'{dn}': bad attribute type at {i}")
        value, i = _read_value(dn, eq + 1)
        current.append((attribute, value))
        if i >= n or dn[i] == ",":
            rdns.append(tuple(current))
            current = []
        i += 1  # past the ',' or '+' that ended the value
    return rdns


DnKey = tuple[Rdn, ...]


def first_value(dn: str) -> str:
    """The value of the first RDN (its first value when multi-valued); the rest of the DN is
    not read."""
    eq = dn.find("=")
    if eq < 0:
        raise DnSyntaxError("the empty DN has no RDN" if not dn else f"'{dn}': no '='")
    attribute = dn[:eq].strip()
    if not attribute or "," in attribute or "+" in attribute:
        raise DnSyntaxError(f"'{dn}': bad attribute type at 0")
    return _read_value(dn, eq + 1)[0]


def _read_value(dn: str, i: int) -> tuple[str, int]:
    """Read one escaped value from ``i`` up to an unescaped ``,``/``+``; return it and the end.

    A value without escapes (nearly all of them) is sliced out whole; only one with a
    backslash is read octet by octet."""
    n = len(dn)
    while i < n and dn[i] == " ":  # spaces before a value are not part of it
        i += 1
    found = _VALUE_END.search(dn, i)
    if found is None or found.group() != "\\":
        end = n if found is None else found.start()
        return dn[i:end].rstrip(" "), end
    raw = bytearray()
    trailing_escaped = 0  # length of raw up to the last escaped character
    while i < n and dn[i] not in ",+":
        char = dn[i]
        if char == "\\":
            if i + 1 >= n:
                raise DnSyntaxError(f"'{dn}': dangling escape at the end")
            pair = dn[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                raw.append(int(pair, 16))
                i += 3
            else:
                raw.extend(dn[i + 1].encode())
                i += 2
            trailing_escaped = len(raw)
        else:
            raw.extend(char.encode())
            i += 1
    # Unescaped trailing spaces are insignificant; escaped ones were counted above.
    while len(raw) > trailing_escaped and raw.endswith(b" "):
        raw.pop()
    try:
        return raw.decode(), i
    except UnicodeDecodeError as exc:
        raise DnSyntaxError(f"'{dn}': escaped bytes are not UTF-8") from exc


def dn_key(dn: str) -> DnKey:
    """A comparable form: types lower-cased, values folded as the directory compares them
    (:func:`connectors.ldap.matching.fold`: the naming attributes scim-sync uses — uid, cn,
    ou, dc — all match with ``caseIgnoreMatch``), multi-valued RDNs sorted.

    So ``uid=alice\\ `` and ``uid=alice`` are one DN, as they are to the server: renaming a
    user onto a lookalike of its own name is no rename (the server would keep the entry where
    it is, and a modify-DN every run would follow), and a member DN written with another
    width or spacing is the same member."""
    return tuple(tuple(sorted((a.lower(), fold(v)) for a, v in rdn_)) for rdn_ in parse_dn(dn))


def same_dn(a: str, b: str) -> bool:
    """Equal DNs after parsing. Identical strings need no parsing (the usual case: the server
    hands back an entry's DN as it was written), nor do ASCII strings equal but for case (AD
    hands back ``CN=…,OU=people`` for ``cn=…,ou=people``): :func:`dn_key` lower-cases types
    and folds values, and for ASCII text folding is lower-casing, escapes included."""
    if a == b:
        return True
    if a.isascii() and b.isascii() and a.lower() == b.lower():
        return True
    return dn_key(a) == dn_key(b)


def is_within(dn: str, ancestor: str) -> bool:
    """True when ``dn`` is ``ancestor`` or lies below it."""
    key, top = dn_key(dn), dn_key(ancestor)
    return len(key) >= len(top) and key[len(key) - len(top) :] == top


def parent_dn(dn: str) -> str:
    """Everything after the first RDN, as written (escapes kept)."""
    i, n = 0, len(dn)
    while i < n:
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[i + 1 :].strip()
        i += 1
    return ""
