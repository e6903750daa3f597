"""First passwords of new AD accounts: made to the domain's policy, sent only encrypted.

Entra never sends a password, but AD will not enable an account without one (Samba does; Windows
refuses ``userAccountControl=512`` on an account that has none). So a new account gets a random
password that meets the domain policy read from the domain object (``minPwdLength``, and
``pwdProperties`` bit 1 for complexity): at least :data:`DEFAULT_LENGTH` characters and never
fewer than the policy's minimum; all four character classes (Windows asks for three); and, as
Windows' complexity filter checks, neither the sAMAccountName nor any part of the display name of
three or more characters inside it.

The password travels as ``unicodePwd``: the value in double quotes, UTF-16-LE. AD accepts that
only over an encrypted connection, and scim-sync refuses to try on a plain one
(:func:`require_encrypted`), so the password never crosses the network in clear. It is held in
a :class:`NewPassword`, whose ``repr`` and ``str`` hide it, so a log line or a traceback that
mentions it shows stars. By default the account must change it at first logon (``pwdLastSet=0``).
"""

from __future__ import annotations

import re
import secrets
import ssl
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconcile.errors import TargetUnavailableError

DEFAULT_LENGTH = 24
MAX_LENGTH = 256
DOMAIN_PASSWORD_COMPLEX = 0x1
POLICY_ATTRIBUTES = ("minPwdLength", "pwdProperties")
SYMBOLS = "!#%+-.:=?@^_~*"
"""Symbols that need no quoting in a shell, a URL query or a CSV cell."""
CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)
_NAME_DELIMITERS = re.compile(r"[,.\-_#\s]+")
MAX_ATTEMPTS = 100


class Chooser(Protocol):
    def choice(self, seq: Sequence[str]) -> str: ...

    def shuffle(self, x: list[str]) -> None: ...


class PasswordTransportError(TargetUnavailableError):
    """A password was about to be sent over a connection that is not encrypted."""


class PasswordPolicyError(ValueError):
    """The domain's policy cannot be met by a generated password (or was read malformed)."""


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 7
    complex: bool = True

    @classmethod
    def from_domain(cls, attributes: Mapping[str, Sequence[str | bytes]]) -> PasswordPolicy:
        """The policy from the domain object's ``minPwdLength`` and ``pwdProperties``."""
        values = {key.lower(): value for key, value in attributes.items()}
        return cls(
            min_length=_integer(values, "minpwdlength", 0),
            complex=bool(_integer(values, "pwdproperties", 0) & DOMAIN_PASSWORD_COMPLEX),
        )


class NewPassword:
    """A generated password; shown as stars anywhere but :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "NewPassword(********)"

    __str__ = __repr__


def problems(
    password: str, policy: PasswordPolicy, account_name: str, display_name: str
) -> list[str]:
    """Why Windows AD would refuse ``password`` for this account; empty when it would not."""
    found = []
    if len(password) < policy.min_length:
        found.append(f"shorter than the domain's minimum of {policy.min_length} characters")
    if len(password) > MAX_LENGTH:
        found.append(f"longer than {MAX_LENGTH} characters")
    if policy.complex:
        classes = sum(any(c in chars for c in password) for chars in CLASSES)
        if classes < 3:
            found.append("fewer than three of upper case, lower case, digits and symbols")
        folded = password.casefold()
        if len(account_name) >= 3 and account_name.casefold() in folded:
            found.append("contains the sAMAccountName")
        parts = [p for p in _NAME_DELIMITERS.split(display_name) if len(p) >= 3]
        if any(part.casefold() in folded for part in parts):
            found.append("contains part of the display name")
    return found


def generate(
    policy: PasswordPolicy,
    account_name: str,
    display_name: str,
    *,
    chooser: Chooser | None = None,
) -> NewPassword:
    """A random password this account's domain accepts (``chooser`` is injected by tests)."""
    rng: Chooser = chooser or secrets.SystemRandom()
    length = max(DEFAULT_LENGTH, policy.min_length)
    if length > MAX_LENGTH:
        raise PasswordPolicyError(
            f"the domain asks for {policy.min_length} characters, more than AD can store"
        )
    alphabet = "".join(CLASSES)
    for _ in range(MAX_ATTEMPTS):
        chars = [rng.choice(chars) for chars in CLASSES]
        chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        candidate = "".join(chars)
        if not problems(candidate, policy, account_name, display_name):
            return NewPassword(candidate)
    raise PasswordPolicyError("no generated password met the domain's policy")


def unicode_pwd(password: NewPassword) -> bytes:
    """The ``unicodePwd`` value: the password in double quotes, encoded UTF-16-LE."""
    return f'"{password.reveal()}"'.encode("utf-16-le")


def require_encrypted(sock: object, where: str) -> None:
    """Raise unless ``sock`` is a TLS socket (LDAPS, or after StartTLS).

    The check is on the socket the password would go out on, not on settings or URLs, so no
    path that forgot StartTLS can send a password in clear.
    """
    if not isinstance(sock, ssl.SSLSocket):
        raise PasswordTransportError(
            f"refused to send a password to {where} over an unencrypted connection; use an "
            "ldaps:// URL in SCIM_SYNC_LDAP_URL or set SCIM_SYNC_LDAP_STARTTLS=true"
        )


def password_attributes(password: NewPassword, must_change: bool) -> dict[str, list[bytes]]:
    """What a new account's add (or a reset) carries: ``unicodePwd``, and ``pwdLastSet=0``
    when the user must change the password at first logon."""
    values = {"unicodePwd": [unicode_pwd(password)]}
    if must_change:
        values["pwdLastSet"] = [b"0"]
    return values


def _integer(values: Mapping[str, Sequence[str | bytes]], key: str, default: int) -> int:
    found = values.get(key)
    if not found:
        return default
    raw = found[0]
    text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
    try:
        return int(text)
    except ValueError:
        raise PasswordPolicyError(f"the domain's {key} is '{text}', not an integer") from None
