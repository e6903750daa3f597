"""The columns of an Identity Manager record, named as in the desired state.

Shared by the planner (which compares them) and the mapping check (which keeps a mapping from
naming them as extra attributes), so neither has to import the other.
"""

from __future__ import annotations

IDENTITY_FIELDS = (
    "active",
    "external_id",
    "email",
    "given_name",
    "family_name",
    "display_name",
    "title",
    "department",
    "employee_number",
    "manager_user_id",
)
"""The columns of a record besides its key, named as in the desired state."""
GROUP_FIELDS = ("display_name", "external_id")
