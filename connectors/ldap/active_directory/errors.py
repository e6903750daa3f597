"""AD's refusals in plain words: the extended error inside ``diagnosticMessage``.

AD answers with a generic LDAP result code (``constraintViolation`` covers a password the policy
refused and a user principal name another account holds alike) and puts the real reason in the
diagnostic message: a Win32 error code in eight hex digits, then, from Windows, a ``problem``
number with its name, ``data`` and the attribute, e.g.::

    0000052D: AtrErr: DSID-03191083, #1:
      0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0,
      Att 9005a (unicodePwd)

Samba sends the code and its own sentence (``0000052D: Constraint violation - check_password_
restrictions: the password is too short…``). :func:`classify` reads the code, decides what a retry
can fix, and says it so a person can act, keeping the server's words after it; anything it does
not know goes to :func:`connectors.ldap.errors.classify`, the LDAP target's one mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from connectors.ldap.errors import LdapResultError
from connectors.ldap.errors import classify as classify_ldap
from reconcile.errors import (
    PermanentTargetError,
    TargetError,
    TargetUnavailableError,
    TransientTargetError,
)


class Outcome(Enum):
    PERMANENT = "permanent"
    """A person must change something (data, mapping, rights): a dead letter."""
    RETRY = "retry"
    """Another writer raced us or the DC hiccupped: the next attempt reads afresh."""


@dataclass(frozen=True)
class AdError:
    name: str
    outcome: Outcome
    words: str


AD_ERRORS: dict[int, AdError] = {
    0x0000052D: AdError(
        "ERROR_PASSWORD_RESTRICTION",
        Outcome.PERMANENT,
        "the domain's password policy refused the password; the generated one follows "
        "minPwdLength and complexity, so a fine-grained password policy or a password filter "
        "on the DC asks for more",
    ),
    0x00000524: AdError(
        "ERROR_USER_EXISTS",
        Outcome.RETRY,
        "another account already has this sAMAccountName; the next attempt reads the names "
        "again and takes a free suffix",
    ),
    0x00002071: AdError(
        "ERROR_DS_OBJ_STRING_NAME_EXISTS",
        Outcome.RETRY,
        "the name is already in use: the CN in this OU (Windows) or the sAMAccountName in the "
        "domain (Samba); the next attempt reads again and takes a free suffix",
    ),
    0x000021C8: AdError(
        "ERROR_DS_UPN_VALUE_NOT_UNIQUE_IN_FOREST",
        Outcome.PERMANENT,
        "another object in the forest already has this userPrincipalName (the work email); "
        "change one of them",
    ),
    0x0000202F: AdError(
        "ERROR_DS_CONSTRAINT_VIOLATION",
        Outcome.PERMANENT,
        "a value breaks a rule of the directory (on Samba also a userPrincipalName or "
        "sAMAccountName another object holds)",
    ),
    0x00002082: AdError(
        "ERROR_DS_RANGE_CONSTRAINT",
        Outcome.PERMANENT,
        "a value is longer or shorter than the schema allows (cn holds 64 characters, "
        "employeeID 16, sAMAccountName 20)",
    ),
    0x00002081: AdError(
        "ERROR_DS_SINGLE_VALUE_CONSTRAINT",
        Outcome.PERMANENT,
        "more than one value for a single-valued attribute; fix the mapping",
    ),
    0x0000200B: AdError(
        "ERROR_DS_INVALID_ATTRIBUTE_SYNTAX",
        Outcome.PERMANENT,
        "a value does not have the attribute's syntax; fix the value in Entra or the mapping",
    ),
    0x0000200A: AdError(
        "ERROR_DS_NO_ATTRIBUTE_OR_VALUE",
        Outcome.PERMANENT,
        "the schema has no such attribute or object class; fix the mapping",
    ),
    0x00002098: AdError(
        "ERROR_DS_INSUFF_ACCESS_RIGHTS",
        Outcome.PERMANENT,
        "the service account lacks a delegated right on this object (docs/active-directory.md "
        "lists the rights)",
    ),
    0x000020B1: AdError(
        "ERROR_DS_CANT_MOD_SYSTEM_ONLY",
        Outcome.PERMANENT,
        "only the directory itself may write this attribute; remove it from the mapping",
    ),
    0x00002035: AdError(
        "ERROR_DS_UNWILLING_TO_PERFORM",
        Outcome.PERMANENT,
        "the DC will not do this to this object (a protected or system object)",
    ),
    0x00002030: AdError(
        "ERROR_DS_NO_SUCH_OBJECT",
        Outcome.PERMANENT,
        "the object or its parent OU does not exist; check the OU settings",
    ),
    0x00002083: AdError(
        "ERROR_DS_ATT_VAL_ALREADY_EXISTS",
        Outcome.RETRY,
        "the value is already there (another writer added it first)",
    ),
    0x00002085: AdError(
        "ERROR_DS_CANT_REM_MISSING_ATT_VAL",
        Outcome.RETRY,
        "the value is already gone (another writer removed it first)",
    ),
    0x000020EF: AdError(
        "ERROR_DS_UNKNOWN_ERROR",
        Outcome.RETRY,
        "the DC reported an internal failure; retried, and a dead letter if it persists",
    ),
    0x00002024: AdError(
        "ERROR_DS_ADMIN_LIMIT_EXCEEDED",
        Outcome.RETRY,
        "the DC's administrative limit was reached; retried later",
    ),
    0x000020F6: AdError("ERROR_DS_DRA_BUSY", Outcome.RETRY, "the DC is busy; retried later"),
}

BIND_DATA: dict[str, str] = {
    "52e": "wrong password or unknown bind account",
    "525": "the bind account does not exist",
    "530": "the bind account may not log on at this time",
    "531": "the bind account may not log on from this machine",
    "532": "the bind account's password has expired",
    "533": "the bind account is disabled",
    "701": "the bind account has expired",
    "773": "the bind account must change its password first",
    "775": "the bind account is locked out",
}
"""The ``data`` field of a refused bind (``80090308: … AcceptSecurityContext error, data 52e``)."""

PROBLEMS = {
    1005: "CONSTRAINT_ATT_TYPE",
    5003: "WILL_NOT_PERFORM",
    6005: "ENTRY_EXISTS",
    5012: "DIR_ERROR",
    4003: "INSUFF_ACCESS_RIGHTS",
    2001: "NO_OBJECT",
}

_CODE = re.compile(r"^\s*([0-9A-Fa-f]{8}):")
_PROBLEM = re.compile(r"problem (\d+)(?: \(([A-Z_]+)\))?")
_ATTRIBUTE = re.compile(r"Att [0-9a-fA-F]+ \(([A-Za-z][A-Za-z0-9-]*)\)")
_BIND_DATA = re.compile(r"data ([0-9a-fA-F]{3,8})\b")


@dataclass(frozen=True)
class Diagnostic:
    """What the diagnostic message says, read defensively (the DC's text is not trusted)."""

    code: int | None
    problem: str | None
    attribute: str | None
    bind_data: str | None

    @classmethod
    def read(cls, message: str) -> Diagnostic:
        code_match = _CODE.match(message)
        problem_match = _PROBLEM.search(message)
        problem = None
        if problem_match:
            number = int(problem_match[1])
            problem = f"problem {number} ({problem_match[2] or PROBLEMS.get(number, '?')})"
        attribute = _ATTRIBUTE.search(message)
        data = _BIND_DATA.search(message)
        return cls(
            code=int(code_match[1], 16) if code_match else None,
            problem=problem,
            attribute=attribute[1] if attribute else None,
            bind_data=data[1].lower().lstrip("0") if data else None,
        )

    def label(self) -> str:
        known = AD_ERRORS.get(self.code) if self.code is not None else None
        parts = [f"AD {self.code:08X}" + (f" {known.name}" if known else "")] if self.code else []
        if self.problem:
            parts.append(self.problem)
        if self.attribute:
            parts.append(f"attribute {self.attribute}")
        return ", ".join(parts)


def classify(exc: BaseException) -> TargetError:
    """The reconciler's error for a failure talking to AD, most specific first."""
    if not isinstance(exc, LdapResultError):
        return classify_ldap(exc)
    diagnostic = Diagnostic.read(exc.message)
    if exc.code == 49 and diagnostic.bind_data in BIND_DATA:
        return TargetUnavailableError(
            f"{exc}: {BIND_DATA[diagnostic.bind_data]}; check SCIM_SYNC_LDAP_BIND_DN and "
            "SCIM_SYNC_LDAP_PASSWORD"
        )
    known = AD_ERRORS.get(diagnostic.code) if diagnostic.code is not None else None
    if known is None:
        return classify_ldap(exc)
    text = f"{known.words} [{diagnostic.label()}] {exc}"
    if known.outcome is Outcome.RETRY:
        return TransientTargetError(text)
    return PermanentTargetError(text)
