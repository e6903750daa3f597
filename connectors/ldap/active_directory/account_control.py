"""``userAccountControl``: whether an account is enabled, among flags others own.

The attribute packs many flags (password never expires, smart card required, trusted for
delegation…) that administrators set by hand. scim-sync owns exactly one of them, ACCOUNTDISABLE
(bit 2): a disable sets it, an enable clears it, and every other bit is written back as read.
A new account is a NORMAL_ACCOUNT (512), with ACCOUNTDISABLE when it starts disabled.
"""

from __future__ import annotations

ACCOUNTDISABLE = 0x0002
PASSWD_NOTREQD = 0x0020
NORMAL_ACCOUNT = 0x0200
DONT_EXPIRE_PASSWORD = 0x1_0000


class AccountControlError(ValueError):
    """The directory returned a userAccountControl that is not a 32-bit integer."""


def parse(value: str | bytes | int) -> int:
    """The flags as an unsigned 32-bit integer (AD may show the attribute signed)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    try:
        number = int(value)
    except ValueError:
        raise AccountControlError(f"userAccountControl '{value}' is not an integer") from None
    if not -(2**31) <= number < 2**32:
        raise AccountControlError(f"userAccountControl {number} is not a 32-bit value")
    return number & 0xFFFF_FFFF


def is_enabled(flags: int) -> bool:
    return not flags & ACCOUNTDISABLE


def with_enabled(flags: int, enabled: bool) -> int:
    """``flags`` with only ACCOUNTDISABLE changed."""
    return flags & ~ACCOUNTDISABLE if enabled else flags | ACCOUNTDISABLE


def for_new_account(enabled: bool) -> int:
    return with_enabled(NORMAL_ACCOUNT, enabled)


def change(observed: int, enabled: bool) -> int | None:
    """The value to write so the account is ``enabled`` (or not); None when nothing changes."""
    wanted = with_enabled(observed, enabled)
    return None if wanted == observed else wanted
