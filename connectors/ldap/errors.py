"""LDAP failures mapped onto the reconciler's error classes, in this one place.

Result codes are from RFC 4511 appendix A. What a retry can fix (a busy or unavailable server,
a timeout, a race with another writer) is transient; what needs a person (schema, syntax,
constraints, access rights) is permanent and carries the server's own words; what breaks every
operation alike (refused credentials, failed TLS verification, a missing base DN) makes the whole
target unavailable, so one bad setting does not dead-letter every resource.
"""

from __future__ import annotations

from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPStartTLSError

from reconcile.errors import (
    PermanentTargetError,
    TargetError,
    TargetUnavailableError,
    TransientTargetError,
)

RESULT_NAMES = {
    3: "timeLimitExceeded",
    11: "adminLimitExceeded",
    13: "confidentialityRequired",
    16: "noSuchAttribute",
    17: "undefinedAttributeType",
    19: "constraintViolation",
    20: "attributeOrValueExists",
    21: "invalidAttributeSyntax",
    32: "noSuchObject",
    34: "invalidDNSyntax",
    48: "inappropriateAuthentication",
    49: "invalidCredentials",
    50: "insufficientAccessRights",
    51: "busy",
    52: "unavailable",
    53: "unwillingToPerform",
    64: "namingViolation",
    65: "objectClassViolation",
    66: "notAllowedOnNonLeaf",
    67: "notAllowedOnRDN",
    68: "entryAlreadyExists",
    69: "objectClassModsProhibited",
    80: "other",
    122: "assertionFailed",
}
TRANSIENT_CODES = frozenset({3, 11, 51, 52, 80})
RACE_CODES = frozenset({16, 20, 68})
"""Another writer (a second worker, the refint overlay, a person) changed the same values or
entry first: the next attempt reads again and decides afresh."""
WHOLE_TARGET_CODES = frozenset({13, 48, 49})
"""Bind and transport-security refusals: every operation would fail the same way."""


class LdapResultError(Exception):
    """The server answered an operation with a result code other than success."""

    def __init__(self, operation: str, dn: str, code: int, message: str) -> None:
        self.operation = operation
        self.dn = dn
        self.code = code
        self.message = message
        name = RESULT_NAMES.get(code, f"result {code}")
        detail = f" ({message})" if message else ""
        super().__init__(f"LDAP {operation} of '{dn}' failed: {name}{detail}")


class ConnectionLostError(Exception):
    """A connection broke under an operation; the operation may be retried on a fresh one."""


def classify(exc: BaseException) -> TargetError:
    """The reconciler's error for an LDAP failure, most specific first (``__cause__`` is set
    by the caller with ``raise classify(exc) from exc``)."""
    if isinstance(exc, TargetError):
        return exc
    if isinstance(exc, LdapResultError):
        if exc.code in WHOLE_TARGET_CODES:
            return TargetUnavailableError(
                f"{exc}; check SCIM_SYNC_LDAP_BIND_DN, SCIM_SYNC_LDAP_PASSWORD and TLS settings"
            )
        if exc.code in TRANSIENT_CODES:
            return TransientTargetError(str(exc))
        if exc.code in RACE_CODES:
            return TransientTargetError(f"{exc}; another writer raced this change")
        return PermanentTargetError(str(exc))
    if isinstance(exc, ConnectionLostError):
        return TransientTargetError(f"the LDAP connection broke: {exc}")
    if isinstance(exc, LDAPStartTLSError):
        return TargetUnavailableError(f"StartTLS failed: {exc}")
    if isinstance(exc, LDAPCommunicationError):
        return TransientTargetError(f"LDAP communication failed: {exc}")
    if isinstance(exc, LDAPException):
        return PermanentTargetError(f"the LDAP library refused the operation: {exc}")
    return PermanentTargetError(f"unexpected LDAP failure: {type(exc).__name__}: {exc}")
