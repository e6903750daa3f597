"""``CN=<display name>``: the naming attribute of AD users and groups, and its clashes.

AD's ``cn`` holds at most 64 characters (Samba accepts more, Windows refuses with
``00002082``). Two accounts may share a display name, but not a CN in one container (AD
compares names ignoring case), so a clash gets a suffix: first the account's own
sAMAccountName in parentheses (unique in the domain, so one step is nearly always enough), then
that with a counter. The suffix always survives the cut to 64 characters; the display name is
what gets shortened. The value is escaped for the DN by :func:`connectors.ldap.names.rdn`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from connectors.ldap.names import rdn

MAX_LENGTH = 64
MAX_TRIES = 1_000


class CommonNameError(ValueError):
    """No free CN could be made for an account in its container."""


def clean(display_name: str, fallback: str) -> str:
    """The display name as a CN value: control characters dropped, runs of white space made one
    space, ends trimmed, cut to 64 characters; ``fallback`` (the userName) when nothing is left."""
    printable = "".join(c if c.isprintable() else " " for c in display_name)
    value = " ".join(printable.split())[:MAX_LENGTH].rstrip()
    if value:
        return value
    return " ".join(fallback.split())[:MAX_LENGTH].rstrip() or "unnamed"


def candidates(display_name: str, distinguisher: str) -> Iterator[str]:
    """CN values in the order they are tried: the name, ``name (sam)``, ``name (sam 2)``…"""
    yield display_name
    yield _fit(display_name, f" ({distinguisher})")
    for number in range(2, MAX_TRIES):
        yield _fit(display_name, f" ({distinguisher} {number})")


def choose(
    display_name: str, distinguisher: str, container: str, is_taken: Callable[[str], bool]
) -> str:
    """The DN of the first candidate CN in ``container`` that ``is_taken`` (given a whole DN,
    comparing as the directory does) reports free."""
    for value in candidates(display_name, distinguisher):
        dn = f"{rdn('CN', value)},{container}"
        if not is_taken(dn):
            return dn
    raise CommonNameError(
        f"no free CN for '{display_name}' in '{container}' after {MAX_TRIES} tries"
    )


def _fit(name: str, suffix: str) -> str:
    if len(suffix) >= MAX_LENGTH:
        raise CommonNameError(f"the suffix '{suffix}' alone exceeds {MAX_LENGTH} characters")
    return name[: MAX_LENGTH - len(suffix)].rstrip() + suffix
