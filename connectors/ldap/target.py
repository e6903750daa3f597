"""The LDAP directory as a reconcile target.

``apply`` observes the resource's entry (:mod:`connectors.ldap.observe`), plans
(:mod:`connectors.ldap.plan`) and sends exactly the planned changes
(:mod:`connectors.ldap.execute`), on a pooled connection, after making sure the containers
entries are placed in exist (once per process). A connection that breaks under an operation
is replaced and the whole apply retried briefly with tenacity (every apply observes before it
writes, so a repeat is safe); anything else is classified once, in
:func:`connectors.ldap.errors.classify`, and raised with the LDAP error as ``__cause__``.
For a batch of users, ``prepare`` observes and plans them ahead and sends their single writes
together (:mod:`connectors.ldap.batch`); each ``apply`` then picks up its own outcome.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import tenacity
from ldap3.core.exceptions import LDAPException

from connectors.ldap.batch import NOT_IN_BATCH, Batch, Taken
from connectors.ldap.connection import ConnectionPool, Session
from connectors.ldap.containers import ensure_containers
from connectors.ldap.directory import Directory
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.execute import StaleError, carry_out
from connectors.ldap.inventory import LdapInventory
from connectors.ldap.mapping import Layout
from connectors.ldap.observe import observe
from connectors.ldap.ownership import Ownership
from connectors.ldap.plan import LdapObserved, plan
from connectors.ldap.session import added_uuid
from connectors.ldap.settings import LdapSettings
from reconcile.anchors import AnchorMemory
from reconcile.changes import Change, ChangeAction, applied
from reconcile.errors import TargetError, TransientTargetError
from reconcile.model import Desired, DesiredIdentity
from reconcile.ports import AnchorBook, Applied, Work

log = logging.getLogger(__name__)


class LdapTarget(LdapInventory):
    name = "ldap"

    def __init__(
        self,
        settings: LdapSettings,
        *,
        pool: ConnectionPool | None = None,
        sleep: Callable[[float], None] = time.sleep,
        reconnect_attempts: int = 3,
        anchors: AnchorBook | None = None,
    ) -> None:
        """``anchors`` is the ledger's anchor book (who holds which entry); without one, the
        target keeps its own from its applies (:class:`reconcile.anchors.AnchorMemory`), as
        when it is driven alone by its tests or a benchmark."""
        self.layout = Layout.from_settings(settings)
        self._memory = AnchorMemory() if anchors is None else None
        self.ownership = Ownership(anchors or self._memory or AnchorMemory(), self.name)
        self.parallelism = settings.connections
        self._pool = pool or ConnectionPool(settings, settings.connections)
        self._containers_ready = False
        self._batch: Batch | None = None
        self._lock = threading.Lock()
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(ConnectionLostError),
            stop=tenacity.stop_after_attempt(reconnect_attempts),
            wait=tenacity.wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05),
            sleep=sleep,
            reraise=True,
        )

    # ---- the contract --------------------------------------------------------------------

    def observe(self, work: Work) -> list[LdapObserved]:
        with self._classified(), self._pool.session() as session:
            return observe(self._directory(session), work)

    def plan(self, desired: Desired, observed: LdapObserved) -> list[Change]:
        return plan(self.layout, desired, observed)

    def execute(self, desired: Desired, observed: LdapObserved, changes: list[Change]) -> Applied:
        with self._classified(), self._pool.session() as session:
            self._ensure_containers(session)
            return carry_out(self._directory(session), desired, observed, changes)

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        if self._memory is not None:
            return self._memory.learning(self.name, desired, lambda: self._apply(desired, anchor))
        return self._apply(desired, anchor)

    def prepare(self, work: Work) -> None:
        """Before a batch: observe and plan its users ahead in a few searches and send their
        single writes together, both in the background (:mod:`connectors.ldap.batch`); each
        ``apply`` then finds its outcome waiting, or its plan.

        Called by the run loop for each phase (and with nothing after it, to forget): a
        phase's writes are all answered before the next phase starts. A failure of the
        read-ahead costs nothing but speed: each apply then observes on its own."""
        if self._batch is not None:
            self._batch.finish()
        self._batch = None
        users = [(d, anchor) for d, anchor in work if isinstance(d, DesiredIdentity)]
        if users:
            self._batch = Batch(
                self._pool, self.layout, users, self._ensure_containers, self.ownership
            )

    def close(self) -> None:
        if self._batch is not None:
            self._batch.finish()
        self._pool.close()

    # ---- one apply -----------------------------------------------------------------------

    @contextmanager
    def _classified(self) -> Iterator[None]:
        try:
            yield
        except TargetError:
            raise
        except StaleError as exc:
            raise TransientTargetError(f"{exc}; will read it again") from exc
        except (LDAPException, LdapResultError, ConnectionLostError, OSError) as exc:
            raise self.layout.kind.classify(exc) from exc

    def _directory(self, session: Session) -> Directory:
        return Directory(session, self.layout, self.ownership.fork())

    def _apply(self, desired: Desired, anchor: str | None) -> Applied:
        with self._classified():
            try:  # the usual case first, without the retry machinery's cost
                return self._apply_once(desired, anchor)
            except ConnectionLostError as exc:
                lost = [exc]
            return self._retrying(self._again, lost, desired, anchor)

    def _again(
        self, lost: list[ConnectionLostError], desired: Desired, anchor: str | None
    ) -> Applied:
        """Tenacity's attempts, the first being the one that already failed (so the number of
        attempts and the waits are what tenacity alone would do)."""
        if lost:
            raise lost.pop()
        return self._apply_once(desired, anchor)

    def _apply_once(self, desired: Desired, anchor: str | None) -> Applied:
        batch = self._batch
        taken = (
            batch.take(desired, anchor)
            if batch is not None and isinstance(desired, DesiredIdentity)
            else NOT_IN_BATCH
        )
        if taken.sent is not None:
            done = self._written_ahead(desired, taken)
            if done is not None:
                return done
        with self._pool.session() as session:
            self._ensure_containers(session)
            directory = self._directory(session)
            if taken.observed is not None and taken.sent is None:
                try:
                    return carry_out(directory, desired, taken.observed, taken.changes)
                except StaleError:
                    pass  # changed since the read-ahead: observe afresh
            for _ in range(2):
                observed = observe(directory, [(desired, anchor)])[0]
                changes = plan(self.layout, desired, observed)
                try:
                    return carry_out(directory, desired, observed, changes)
                except StaleError:
                    continue  # moved or replaced under us: once more, from a fresh read
        raise TransientTargetError(
            f"the entry of '{desired.scim_id}' kept changing while it was written; will retry"
        )

    def _written_ahead(self, desired: Desired, taken: Taken) -> Applied | None:
        """The outcome of a plan whose one write the batch sent, if that write succeeded;
        None sends the apply to observe afresh (refused, or its result lost)."""
        result = taken.result
        if result is None or result.code != 0:
            return None
        observed = taken.observed
        anchor = observed.entry.entry_uuid if observed and observed.entry else None
        create = next((c for c in taken.changes if c.action is ChangeAction.CREATE), None)
        if create is not None and create.moved_to:
            anchor = added_uuid(result) or taken.anchor or self._uuid_at(create.moved_to)
        return applied(desired, taken.changes, anchor or None)

    def _uuid_at(self, dn: str) -> str:
        """The ``entryUUID`` of a new entry, for a server that ignores the Post-Read control."""
        with self._pool.session() as session:
            entry = session.read(dn, [self.layout.kind.anchor_attribute])
        return entry.entry_uuid if entry else ""

    def _ensure_containers(self, session: Session) -> None:
        """Create the containers entries are placed in, once per process
        (:mod:`connectors.ldap.containers`)."""
        if self._containers_ready:
            return
        with self._lock:
            if not self._containers_ready:
                ensure_containers(session, self.layout)
                self._containers_ready = True
