"""userAccountControl and groupType arithmetic."""

from __future__ import annotations

import pytest

from connectors.ldap.active_directory import account_control as uac
from connectors.ldap.active_directory import group_types


def test_disable_and_enable_touch_only_bit_2() -> None:
    others = uac.NORMAL_ACCOUNT | uac.DONT_EXPIRE_PASSWORD | 0x0004_0000  # smart card required
    disabled = uac.with_enabled(others, enabled=False)
    assert disabled == others | 2
    assert uac.with_enabled(disabled, enabled=True) == others
    assert uac.change(disabled, enabled=False) is None
    assert uac.change(disabled, enabled=True) == others


def test_a_new_account_is_a_normal_account() -> None:
    assert uac.for_new_account(enabled=True) == 512
    assert uac.for_new_account(enabled=False) == 514


@pytest.mark.parametrize(
    ("stored", "flags"), [(b"66050", 66050), ("512", 512), (-2147483136, 0x8000_0200)]
)
def test_stored_values_parse_as_unsigned(stored: str | bytes | int, flags: int) -> None:
    assert uac.parse(stored) == flags


@pytest.mark.parametrize("stored", [b"x", "1e3", 2**33])
def test_malformed_values_are_refused(stored: str | bytes | int) -> None:
    with pytest.raises(uac.AccountControlError):
        uac.parse(stored)


@pytest.mark.parametrize(
    ("scope", "kind", "stored"),
    [
        ("global", "security", -2147483646),
        ("domain-local", "security", -2147483644),
        ("Universal", "Security", -2147483640),
        ("global", "distribution", 2),
        ("domain local", "distribution", 4),
        ("universal", "distribution", 8),
    ],
)
def test_group_types_from_names_and_back(scope: str, kind: str, stored: int) -> None:
    assert group_types.group_type(scope, kind) == stored
    assert group_types.describe(str(stored).encode()) == (
        scope.lower().replace("-", "_").replace(" ", "_"),
        kind.lower(),
    )


def test_the_default_is_a_global_security_group() -> None:
    assert group_types.group_type() == -2147483646


@pytest.mark.parametrize(("scope", "kind"), [("local", "security"), ("global", "mail")])
def test_unknown_names_are_refused(scope: str, kind: str) -> None:
    with pytest.raises(group_types.GroupTypeError):
        group_types.group_type(scope, kind)


def test_a_stored_value_without_one_scope_is_refused() -> None:
    with pytest.raises(group_types.GroupTypeError, match="single scope"):
        group_types.describe(6)
