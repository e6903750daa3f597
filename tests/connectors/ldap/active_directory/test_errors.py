"""AD's extended errors: the code read from diagnosticMessage decides retry or dead letter."""

from __future__ import annotations

import pytest
from ldap3.core.exceptions import LDAPSocketOpenError

from connectors.ldap.active_directory.errors import Diagnostic, classify
from connectors.ldap.errors import LdapResultError
from reconcile.errors import PermanentTargetError, TargetUnavailableError, TransientTargetError

WINDOWS_PASSWORD = (
    "0000052D: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 "
    "(CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n\x00"
)
SAMBA_PASSWORD = (
    "0000052D: Constraint violation - check_password_restrictions: the password is too short."
)


def failure(code: int, message: str) -> LdapResultError:
    return LdapResultError("add", "CN=Jane,OU=People,DC=x", code, message)


def test_the_windows_message_is_read_whole() -> None:
    diagnostic = Diagnostic.read(WINDOWS_PASSWORD)
    assert diagnostic.code == 0x52D
    assert diagnostic.problem == "problem 1005 (CONSTRAINT_ATT_TYPE)"
    assert diagnostic.attribute == "unicodePwd"
    assert diagnostic.label() == (
        "AD 0000052D ERROR_PASSWORD_RESTRICTION, problem 1005 (CONSTRAINT_ATT_TYPE), "
        "attribute unicodePwd"
    )


@pytest.mark.parametrize("message", [WINDOWS_PASSWORD, SAMBA_PASSWORD])
def test_a_password_policy_refusal_is_permanent_in_plain_words(message: str) -> None:
    error = classify(failure(19, message))
    assert type(error) is PermanentTargetError
    assert "password policy refused" in error.reason
    assert "CN=Jane,OU=People,DC=x" in error.reason


@pytest.mark.parametrize(
    ("code", "message", "kind", "words"),
    [
        (
            68,
            "00002071: UpdErr: DSID-031B0D28, problem 6005 (ENTRY_EXISTS), data 0",
            TransientTargetError,
            "already in use",
        ),
        (
            19,
            "00000524: UpdErr: DSID-031A11E0, problem 6005 (ENTRY_EXISTS), data 0",
            TransientTargetError,
            "sAMAccountName",
        ),
        (
            19,
            "000021C8: AtrErr: DSID-03200BBA, #1:\n\t0: 000021C8: DSID-03200BBA, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 90290 (userPrincipalName)",
            PermanentTargetError,
            "userPrincipalName",
        ),
        (
            19,
            "00002082: AtrErr: DSID-031519C9, #1:\n\t0: 00002082: DSID-031519C9, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 3 (cn)",
            PermanentTargetError,
            "64 characters",
        ),
        (
            50,
            "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0",
            PermanentTargetError,
            "delegated right",
        ),
        (
            80,
            "000020EF: SvcErr: DSID-020A07C3, problem 5012 (DIR_ERROR), data 0",
            TransientTargetError,
            "internal failure",
        ),
        (
            19,
            "0000202F: samldb: userPrincipalName 'a@x' is already in use",
            PermanentTargetError,
            "breaks a rule",
        ),
    ],
)
def test_extended_codes_decide(code: int, message: str, kind: type[Exception], words: str) -> None:
    error = classify(failure(code, message))
    assert type(error) is kind
    assert words in error.reason


def test_a_refused_bind_names_the_accounts_state() -> None:
    message = (
        "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563"
    )
    error = classify(failure(49, message))
    assert isinstance(error, TargetUnavailableError)
    assert "locked out" in error.reason


def test_what_ad_does_not_explain_falls_back_to_the_ldap_mapping() -> None:
    assert type(classify(failure(51, "busy"))) is TransientTargetError
    assert type(classify(failure(65, "objectClassViolation"))) is PermanentTargetError
    assert type(classify(failure(19, "12345678: no such code"))) is PermanentTargetError
    assert type(classify(LDAPSocketOpenError("refused"))) is TransientTargetError
