"""Revision 0007 rewrites string ``primary`` flags and nothing else (the whole upgrade is in
tests/scheduler/test_upgrade_from_0_1_0.py)."""

from __future__ import annotations

import importlib
from typing import Any

revision = importlib.import_module("inbound.database.migrations.versions.0007_boolean_primary")
CUSTOM = "urn:example:params:scim:schemas:extension:badges:2.0:User"


def test_string_flags_become_booleans_in_core_and_extension_lists() -> None:
    data: dict[str, Any] = {
        "userName": "E1",
        "roles": [{"value": "Admin", "primary": "TRUE"}, {"value": "User", "primary": "false"}],
        "emails": [{"value": "a@example.com", "primary": True}],
        CUSTOM: {"badges": [{"value": "B-7", "primary": "True"}], "level": "True"},
    }
    assert revision.fixed(data) == {
        "userName": "E1",
        "roles": [{"value": "Admin", "primary": True}, {"value": "User", "primary": False}],
        "emails": [{"value": "a@example.com", "primary": True}],
        CUSTOM: {"badges": [{"value": "B-7", "primary": True}], "level": "True"},
    }


def test_nothing_to_change_is_none_and_other_strings_stay() -> None:
    assert revision.fixed({"userName": "E1", "emails": [{"primary": True}]}) is None
    assert revision.fixed({"userName": "E1", "roles": [{"value": "x", "primary": "yes"}]}) is None
    assert revision.fixed({"title": "True", "name": {"primary": "True"}}) is None
