"""``sAMAccountName``: the pre-Windows 2000 logon name, derived from the userName.

Windows AD refuses a name longer than 20 characters, one holding any of ``"/\\[]:;|=,+*?<>@`` or a
control character, one ending in a period, and one made only of spaces and periods. Samba
accepts some of these (a 21-character name, for one), so the rules are checked here, before the
directory sees the name. The name is unique in the whole domain, users and groups together,
compared without regard to case; a taken name gets a numeric suffix, the first free one in a
fixed order, so the same inputs always give the same name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

MAX_LENGTH = 20
FORBIDDEN = frozenset('"/\\[]:;|=,+*?<>@')
MAX_SUFFIX = 10_000
"""How far the collision search goes before giving up: far beyond any real clash."""


class AccountNameError(ValueError):
    """No acceptable sAMAccountName could be made (or a given one breaks the rules)."""


def problem(name: str) -> str | None:
    """Why Windows AD would refuse ``name`` as a sAMAccountName, in plain words; None if fine."""
    if not name:
        return "it is empty"
    if len(name) > MAX_LENGTH:
        return f"it has {len(name)} characters, more than {MAX_LENGTH}"
    bad = sorted({c for c in name if c in FORBIDDEN or not c.isprintable()})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f'it contains {shown}; none of "/\\[]:;|=,+*?<>@ or control characters may appear'
    if not name.strip(" ."):
        return "it is made only of spaces and periods"
    if name.endswith("."):
        return "it ends with a period"
    if name != name.strip():
        return "it begins or ends with a space"
    return None


def default_name(source: str) -> str:
    """The default rule: ``source`` (the userName, or a group's display name) when it fits.

    Otherwise the part before an ``@``, without the forbidden characters, cut to 20 characters
    and without trailing periods or spaces; if nothing usable is left, ``x`` and 12 hex digits of
    a hash of ``source``, so even a name of symbols maps to one stable account name.
    """
    if problem(source) is None:
        return source
    local = source.split("@", 1)[0] or source
    kept = "".join(c for c in local if c not in FORBIDDEN and c.isprintable())
    cut = kept.strip()[:MAX_LENGTH].rstrip(" .")
    if cut and problem(cut) is None:
        return cut
    return "x" + hashlib.sha256(source.encode()).hexdigest()[:12]


def with_suffix(base: str, number: int) -> str:
    """``base`` with ``number`` appended, ``base`` cut so the whole stays within 20 characters
    (the digits end the name, so a period left at the end of the cut is harmless)."""
    suffix = str(number)
    head = base[: MAX_LENGTH - len(suffix)]
    if not head.strip(" ."):
        raise AccountNameError(f"'{base}' leaves no room for the suffix {suffix}")
    return head + suffix


def choose(base: str, is_taken: Callable[[str], bool]) -> str:
    """The first of ``base``, ``base2``, ``base3``… that ``is_taken`` says is free.

    ``is_taken`` must compare as AD does, ignoring case (:func:`taken_among` builds one from
    names read from the domain). Raises :class:`AccountNameError` when ``base`` breaks the rules
    or every suffix up to :data:`MAX_SUFFIX` is taken.
    """
    reason = problem(base)
    if reason is not None:
        raise AccountNameError(f"'{base}' cannot be a sAMAccountName: {reason}")
    if not is_taken(base):
        return base
    for number in range(2, MAX_SUFFIX):
        candidate = with_suffix(base, number)
        if not is_taken(candidate):
            return candidate
    raise AccountNameError(f"every sAMAccountName from '{base}' to suffix {MAX_SUFFIX} is taken")


def taken_among(names: Iterable[str]) -> Callable[[str], bool]:
    """A lookup over names already in the domain, comparing without regard to case."""
    folded = {name.casefold() for name in names}
    return lambda candidate: candidate.casefold() in folded
