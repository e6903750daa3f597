"""One harness per target for the contract suite: stage through SCIM, dry-run, run, compare.

Every target is composed as ``scim-sync`` composes it (the staging store and its ledger on
SQLite or PostgreSQL, the anchor book), the in-memory target added as a third-party target
would be. ``dry_run`` is what ``scim-sync reconcile --dry-run`` prints for the target
(:meth:`FullReconciler.preview`); ``run`` is one ``run_once`` of the run loop, recording the
changes each apply carried out, so a test can hold one against the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from litestar.testing import TestClient

from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from inbound.database.store import ResourceStore
from reconcile.changes import Change
from reconcile.errors import TargetError
from reconcile.full import FullReconciler
from reconcile.memory_target import MemoryTarget
from reconcile.model import Desired
from reconcile.ports import Applied, Target
from reconcile.runner import Reconciler, TargetReport
from scheduler.composition import Runtime
from tests.support import FakeClock
from tests.support.scim_client import scim_client


@dataclass
class Harness:
    runtime: Runtime
    target: Target[Any]
    lookalike: Callable[[str], str]
    """A user ID the target takes for the same name as the given one (staging may not)."""
    relocate: Callable[[], LdapTarget] | None = None
    """The same target with its users in another container, for targets that place entries."""
    applied: list[Change] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def clock(self) -> FakeClock:
        clock = self.runtime.services.clock
        assert isinstance(clock, FakeClock)
        return clock

    @contextmanager
    def client(self) -> Iterator[TestClient[Any]]:
        with scim_client(self.runtime) as client:
            yield client

    def desired(self, scim_id: str) -> Desired:
        return self.runtime.desired.load([scim_id])[scim_id]

    def anchor(self, scim_id: str) -> str | None:
        (state,) = self.runtime.ledger.states_of(scim_id, [self.name])
        return state.anchor

    def dry_run(self, target: Target[Any] | None = None) -> list[Change]:
        """What ``reconcile --dry-run`` lists for the target, in its order."""
        full = self.full(target)
        return [c for report in full.preview([self.name]) for c in report.changes]

    def run(self, target: Target[Any] | None = None) -> tuple[TargetReport, list[Change]]:
        """One run of the run loop; the changes its applies carried out, in the same order as
        the plan lists them (the run loop's phases: deletes, users, groups)."""
        chosen = target or self.target
        self.applied = []
        original = chosen.apply

        def recording(desired: Desired, anchor: str | None) -> Applied:
            done = original(desired, anchor)
            self.applied.extend(done.changes)
            return done

        chosen.apply = recording  # type: ignore[method-assign]
        try:
            clock = self.runtime.services.clock
            loop = Reconciler(self.runtime.desired, self.runtime.ledger, [chosen], clock=clock)
            (report,) = loop.run_once([self.name]).targets
        finally:
            del chosen.apply
        return report, self.applied

    def plan_of(self, scim_id: str) -> list[Change]:
        """The plan of one resource now, as its next apply would make it."""
        desired = self.desired(scim_id)
        observed = self.target.observe([(desired, self.anchor(scim_id))])[0]
        return self.target.plan(desired, observed)

    def apply_again(self, scim_id: str) -> Applied:
        return self.target.apply(self.desired(scim_id), self.anchor(scim_id))

    def refused(self, desired: Desired) -> tuple[list[Change], TargetError]:
        """The plan for ``desired`` (not staged) and the error its apply raises."""
        observed = self.target.observe([(desired, None)])[0]
        planned = self.target.plan(desired, observed)
        try:
            self.target.apply(desired, None)
        except TargetError as exc:
            return planned, exc
        raise AssertionError(f"the apply of {desired} was not refused")

    def full(self, target: Target[Any] | None = None) -> FullReconciler:
        """The full reconcile (and the dry run's preview) for this target alone."""
        runtime = self.runtime
        return FullReconciler(
            runtime.desired,
            runtime.ledger,
            [target or self.target],
            anchors=runtime.anchors,
            clock=runtime.services.clock,
        )


def with_memory_target(runtime: Runtime) -> MemoryTarget:
    """Add the in-memory target as any further target is added: the staging store records
    work for it, and it asks the ledger who holds its entries."""
    target = MemoryTarget(anchors=runtime.anchors)
    runtime.targets.append(target)
    names = [t.name for t in runtime.targets]
    runtime.services.target_names[:] = names
    runtime.store.close()
    runtime.store = ResourceStore(
        runtime.database_engine,
        clock=runtime.services.clock,
        on_change=runtime.signals.work_waiting,
        targets=names,
    )
    runtime.services.store = runtime.store
    return target


def relocated(settings: LdapSettings, runtime: Runtime) -> Callable[[], LdapTarget]:
    """The LDAP target again, placing users in ``ou=staff`` instead of ``ou=people``: what a
    placement rule that changed does to every user. The caller closes it."""

    def make() -> LdapTarget:
        moved = replace(settings, users_dn=f"ou=staff,{settings.base_dn}")
        return LdapTarget(moved, anchors=runtime.anchors)

    return make
