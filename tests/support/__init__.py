"""What tests share: helpers to import, and fixtures registered by the root ``conftest.py``.

Test modules import helpers from here (``from tests.support import entra_user``) or from a
module of this package, never from another test module or a conftest. The names re-exported
below are the ones most tests need; the rest live in the module named for what they do.
"""

from tests.support.bodies import (
    ENTERPRISE,
    GROUP,
    MS_GROUP,
    PATCH,
    USER,
    entra_group,
    entra_user,
    patch_body,
)
from tests.support.clock import FakeClock
from tests.support.postgres import pg_schema

__all__ = [
    "ENTERPRISE",
    "GROUP",
    "MS_GROUP",
    "PATCH",
    "USER",
    "FakeClock",
    "entra_group",
    "entra_user",
    "patch_body",
    "pg_schema",
]
