"""``groupType``: a group's scope (global, domain local, universal) and kind (security or
distribution), as the single signed integer AD stores.

The scope is one of three bits; security groups add the top bit, which makes the stored value
negative (a global security group is ``-2147483646``). The default, as in AD's own tools, is a
global security group.
"""

from __future__ import annotations

GLOBAL = 0x0000_0002
DOMAIN_LOCAL = 0x0000_0004
UNIVERSAL = 0x0000_0008
SECURITY = 0x8000_0000

SCOPES = {"global": GLOBAL, "domain_local": DOMAIN_LOCAL, "universal": UNIVERSAL}
KINDS = {"security": SECURITY, "distribution": 0}
DEFAULT_SCOPE = "global"
DEFAULT_KIND = "security"


class GroupTypeError(ValueError):
    """An unknown scope or kind name, or a stored value that is no valid group type."""


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def group_type(scope: str = DEFAULT_SCOPE, kind: str = DEFAULT_KIND) -> int:
    """The stored (signed) value for a scope and kind named in words, e.g. ``domain-local``."""
    scope_bits = SCOPES.get(_key(scope))
    if scope_bits is None:
        raise GroupTypeError(f"group scope '{scope}' is not one of {', '.join(SCOPES)}")
    kind_bits = KINDS.get(_key(kind))
    if kind_bits is None:
        raise GroupTypeError(f"group kind '{kind}' is not one of {', '.join(KINDS)}")
    return _signed(scope_bits | kind_bits)


def describe(value: int | str | bytes) -> tuple[str, str]:
    """(scope, kind) of a stored value, as :func:`group_type` names them."""
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else str(value)
    try:
        number = int(text) & 0xFFFF_FFFF
    except ValueError:
        raise GroupTypeError(f"groupType '{text}' is not an integer") from None
    scopes = [name for name, bit in SCOPES.items() if number & bit]
    if len(scopes) != 1:
        raise GroupTypeError(f"groupType {text} has no single scope")
    return scopes[0], "security" if number & SECURITY else "distribution"


def _signed(number: int) -> int:
    return number - 2**32 if number & 0x8000_0000 else number
