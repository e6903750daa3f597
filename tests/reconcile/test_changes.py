"""Changes as data: the outcome a plan's changes record, and the errors its refusals raise."""

from __future__ import annotations

import pytest

from reconcile.changes import (
    Action,
    ChangeAction,
    applied,
    change,
    refusal,
    refuse_first,
    wait_after,
)
from reconcile.errors import (
    ClashError,
    NotReadyError,
    PermanentTargetError,
    TargetError,
    TransientTargetError,
)
from reconcile.model import DesiredIdentity, ResourceKind, Tombstone

ADA = DesiredIdentity("s1", 1, "ada")
GONE = Tombstone("s1", 2, ResourceKind.USER, "ada")


def of(*actions: ChangeAction) -> list[object]:
    return [change("t", ADA, a) for a in actions]


@pytest.mark.parametrize(
    ("desired", "actions", "expected"),
    [
        (ADA, [], Action.UNCHANGED),
        (ADA, [ChangeAction.WAIT], Action.UNCHANGED),
        (ADA, [ChangeAction.CREATE, ChangeAction.WAIT], Action.CREATED),
        (ADA, [ChangeAction.ADOPT, ChangeAction.UPDATE], Action.UPDATED),
        (ADA, [ChangeAction.RENAME, ChangeAction.DISABLE], Action.DISABLED),
        (ADA, [ChangeAction.ENABLE], Action.UPDATED),
        (ADA, [ChangeAction.DELETE], Action.DISABLED),  # a delete policy's disable
        (GONE, [ChangeAction.DELETE], Action.DELETED),
    ],
)
def test_the_recorded_action_is_the_strongest_change(
    desired: DesiredIdentity | Tombstone, actions: list[ChangeAction], expected: Action
) -> None:
    changes = [change("t", desired, a) for a in actions]
    done = applied(desired, changes, "anchor")
    assert done.action is expected and done.changes == tuple(changes)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (ClashError("c"), ChangeAction.CLASH),
        (PermanentTargetError("p"), ChangeAction.REFUSE),
        (TransientTargetError("t"), ChangeAction.RETRY),
        (NotReadyError("n"), ChangeAction.WAIT),
    ],
)
def test_a_refusal_raises_the_error_it_was_planned_from(
    error: TargetError, action: ChangeAction
) -> None:
    planned = refusal("t", ADA, error)
    assert (planned.action, planned.detail, planned.refusal) == (action, error.reason, True)
    with pytest.raises(type(error), match=error.reason) as raised:
        refuse_first([planned])
    assert type(raised.value) is type(error)


def test_a_wait_after_writes_keeps_the_anchor() -> None:
    changes = [
        change("t", ADA, ChangeAction.UPDATE),
        change("t", ADA, ChangeAction.WAIT, detail="m"),
    ]
    refuse_first(changes)  # a wait with writes before it: the writes go first
    with pytest.raises(NotReadyError, match="m") as waited:
        wait_after(changes, "anchor-1")
    assert waited.value.anchor == "anchor-1"
    wait_after(changes[:1], "anchor-1")  # nothing to wait for: returns


def test_a_change_reads_as_one_line() -> None:
    moved = change("ldap", ADA, ChangeAction.MOVE, locator="uid=ada,ou=a", moved_to="uid=ada,ou=b")
    assert moved.describe() == "move User ada: uid=ada,ou=a -> uid=ada,ou=b"
    update = change("t", ADA, ChangeAction.UPDATE, diff={"title": ("A", "B")})
    assert update.describe() == "update User ada: title: 'A' -> 'B'"
    assert update.to_json()["diff"] == {"title": {"observed": "A", "desired": "B"}}
