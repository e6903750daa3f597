"""What the receiver refuses at its boundary, and the one spelling of a name's uniqueness key.

Everything here runs before a value reaches a database, so SQLite and PostgreSQL give the same
answer: PostgreSQL refuses a NUL in text and overlong values in its varchar columns, SQLite
stores both, and either way the client would otherwise see a 500 on one database and a 201 on
the other. ``docs/scim.md`` ("What is refused and why") lists these rules with their numbers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from inbound.errors import ScimError, invalid_syntax, invalid_value

MAX_JSON_DEPTH = 32
"""Objects and arrays nested deeper than this are refused. A SCIM body is at most five deep
(a Bulk operation's PATCH value's sub-attribute); the bound keeps every recursive walk over a
body far from Python's recursion limit."""

MAX_COLUMN_LENGTH = 512
"""``userName``, a group's ``displayName``, a user's ``displayName`` and ``externalId`` are
kept in indexed columns of 512 characters (and so is the name's uniqueness key)."""

MAX_INTEGER = 2**63 - 1
"""Integers in bodies must fit a signed 64-bit column (SQLite INTEGER, PostgreSQL bigint)."""

MULTI_LINE_ATTRIBUTES = frozenset({"addresses.formatted", "addresses.streetAddress"})
"""Where tab, CR and LF are legitimate: a postal address is written on several lines
(RFC 7643 §4.1.2 says ``formatted`` may contain newlines; Entra maps Active Directory's
multi-line ``streetAddress`` to ``streetAddress``)."""

CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Unicode category Cc except tab, LF and CR, which are refused attribute by attribute."""
_LINE_BREAK = re.compile("[\t\n\r]")
_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
"""Characters a name must not hold: controls, invisible format characters such as U+200B
(zero-width space), the line and paragraph separators U+2028/U+2029, lone surrogates."""


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def check_no_controls(value: str, where: str) -> None:
    """NUL and the other control characters (tab, CR and LF aside) are refused anywhere."""
    found = CONTROL_CHARACTER.search(value)
    if found is not None:
        raise invalid_value(
            f"'{where}' contains the control character {_describe(found.group())} at "
            f"position {found.start() + 1}; control characters are refused"
        )


def check_single_line(value: str, where: str) -> None:
    """Tab, CR and LF only in the multi-line attributes (``MULTI_LINE_ATTRIBUTES``)."""
    found = _LINE_BREAK.search(value)
    if found is not None:
        raise invalid_value(
            f"'{where}' contains {_describe(found.group())} at position {found.start() + 1}; "
            "tab, CR and LF are accepted only in addresses.formatted and "
            "addresses.streetAddress"
        )


def check_name(value: str, where: str) -> None:
    """A ``userName`` or group ``displayName`` holds no control, format or separator
    character: such names look like another one in every list an administrator reads."""
    if not value.isprintable():  # fast: true for every ordinary name, spaces included
        for position, char in enumerate(value, start=1):
            if unicodedata.category(char) in _NAME_CATEGORIES:
                raise invalid_value(
                    f"'{where}' contains {_describe(char)} at position {position}; names may "
                    "not hold control, format (such as zero-width) or line separator characters"
                )
    check_length(value, where)
    if len(name_key(value)) > MAX_COLUMN_LENGTH:
        raise invalid_value(
            f"'{where}' is longer than {MAX_COLUMN_LENGTH} characters once its compatibility "
            "characters are expanded (Unicode NFKC); shorten it"
        )


def check_length(value: str, where: str) -> None:
    if len(value) > MAX_COLUMN_LENGTH:
        raise invalid_value(
            f"'{where}' is {len(value)} characters long; the maximum is {MAX_COLUMN_LENGTH}"
        )


def check_integer(value: int, where: str) -> None:
    if not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise invalid_value(f"'{where}' is out of range: integers must fit in 64 bits")


def check_finite(value: float, where: str) -> None:
    if not math.isfinite(value) or abs(value) > 1e300:
        raise invalid_value(f"'{where}' is out of range for a decimal")


def name_key(name: str) -> str:
    """The uniqueness key of a name: names that differ only in letter case, Unicode width or
    compatibility forms (NFKC), or spacing (leading, trailing, runs) share one key, because
    LDAP's matching rules (RFC 4518) and people reading a list cannot tell them apart.

    A migration froze a copy of this rule (``0004_name_keys``); change both together."""
    if name.isascii():
        return " ".join(name.lower().split())
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def check_body(body: Any) -> None:
    """A decoded request body: nesting within ``MAX_JSON_DEPTH``, no control characters in
    any key or string value. Iterative, so any shape is checked in bounded stack."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(body, 1, ())]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            # isprintable() is false for every control character, and fast
            if not value.isprintable() and CONTROL_CHARACTER.search(value) is not None:
                check_no_controls(value, _json_path(where))
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                if CONTROL_CHARACTER.search(key) is not None:
                    check_no_controls(key, _json_path((*where, key)) + " (a member name)")
                stack.append((item, depth + 1, (*where, key)))
        else:
            stack.extend((item, depth + 1, (*where, i)) for i, item in enumerate(value))


def too_deep() -> ScimError:
    """Also the answer when the JSON decoder itself gave up descending into a body."""
    return invalid_syntax(
        f"the request body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep"
    )


def _json_path(where: tuple[str | int, ...]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the body"
