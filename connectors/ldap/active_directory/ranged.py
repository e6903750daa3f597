"""Ranged retrieval: reading every value of a multi-valued attribute such as ``member``.

AD hands out at most ``MaxValRange`` values of one attribute per search (1,500 on Windows
Server 2008 and later; Samba returns them all unless asked for a range). A client asks for
``member;range=0-*``; the server answers ``member;range=0-1499`` when more follow, and the
client asks again from 1500, until an answer ends in ``*``. ldap3 has its own ``auto_range``,
but with the raw attributes it loses or crashes on some answers (a range that starts past the
end), so the loop is ours and ldap3's must be off on connections that use it.

The server is not trusted to make progress: a range that does not start where asked, or a
non-final range with no values, stops the loop with an error instead of looping for ever.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

Fetch = Callable[[str, str], Mapping[str, Sequence[bytes | str] | None]]
"""Read one attribute (a name with options, e.g. ``member;range=0-*``) of the entry at a DN:
the entry's returned attributes by name, as the server named them."""

_RANGE = re.compile(r"^(?P<name>[^;]+)(?P<options>(;[^;]*)*?);range=(?P<low>\d+)-(?P<high>\d+|\*)$")
MAX_VALUES = 10_000_000


class RangeError(Exception):
    """The server's ranged answer did not make progress as the protocol requires."""


def read_values(fetch: Fetch, dn: str, attribute: str, step: int | None = None) -> list[str]:
    """Every value of ``attribute`` of ``dn``, following ranges until the last one.

    ``step`` asks for explicit ranges of that many values (``member;range=0-99``); None asks
    for as many as the server gives at once (``member;range=0-*``), the normal use.
    """
    if step is not None and step < 1:
        raise ValueError("step must be at least 1")
    values: list[str] = []
    low = 0
    while True:
        high = "*" if step is None else str(low + step - 1)
        answer = fetch(dn, f"{attribute};range={low}-{high}")
        found = _find(answer, attribute)
        if found is None:
            return values  # no such attribute: no values at all (or none past the end)
        start, end, chunk = found
        if start != low:
            raise RangeError(f"asked {attribute} of '{dn}' from {low}, the server gave {start}")
        values.extend(_text(v) for v in chunk)
        if end is None:
            return values
        if not chunk or end < start:
            raise RangeError(f"the server's range {start}-{end} of '{dn}' gave no progress")
        if len(values) > MAX_VALUES:
            raise RangeError(f"'{dn}' has more than {MAX_VALUES} values of {attribute}")
        low = end + 1


def _find(
    answer: Mapping[str, Sequence[bytes | str] | None], attribute: str
) -> tuple[int, int | None, Sequence[bytes | str]] | None:
    """(first index, last index or None for the final range, values) of the attribute."""
    wanted = attribute.lower()
    for key, chunk in answer.items():
        if key.lower() == wanted:  # the server did not range: this is everything
            return 0, None, chunk or ()
        match = _RANGE.match(key)
        if match and match["name"].lower() == wanted:
            high = None if match["high"] == "*" else int(match["high"])
            return int(match["low"]), high, chunk or ()
    return None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
