"""Helpers for the admin tests: a target that refuses everything, and a logged-in client."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from inbound.database.store import ResourceStore
from reconcile.errors import PermanentTargetError
from reconcile.memory_target import MemoryTarget
from reconcile.model import Desired
from reconcile.ports import Action, Applied
from reconcile.runner import Reconciler
from scheduler.composition import Runtime, brake_of

REFUSAL = "objectClassViolation: the directory refuses this entry"


class RefusingTarget(MemoryTarget):
    """A target that refuses every change for good (a dead letter) until told to accept."""

    def __init__(self, name: str = "refusing") -> None:
        super().__init__(name)
        self.refuse = True

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        if self.refuse:
            raise PermanentTargetError(REFUSAL)
        return Applied(Action.CREATED, desired.scim_id)


def add_target(runtime: Runtime, target: RefusingTarget) -> None:
    """Compose the runtime again with one more target, as the composition root would."""
    runtime.targets.append(target)
    names = [t.name for t in runtime.targets]
    runtime.services.target_names[:] = names
    clock = runtime.services.clock
    runtime.store.close()
    runtime.store = ResourceStore(
        runtime.database_engine, clock=clock, on_change=runtime.signals.work_waiting, targets=names
    )
    runtime.services.store = runtime.store
    runtime.reconciler = Reconciler(
        runtime.desired,
        runtime.ledger,
        runtime.targets,
        clock=clock,
        brake=brake_of(runtime.settings),
    )
    runtime.prepare_worker()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def login(client: TestClient[Any], admin_key: str) -> str:
    """Log in through the form; returns the CSRF token of the session."""
    response = client.post("/admin/login", data={"admin_key": admin_key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/admin")
    assert page.status_code == 200
    return csrf_of(page.text)
