"""The LDAP directory as a reconcile target.

``apply`` borrows a pooled connection, makes sure the users, groups and disabled containers
exist (once per process), then hands the resource to the user or group path. A connection that
breaks under an operation is replaced and the whole apply retried briefly with tenacity (every
step re-reads before it writes, so a repeat is safe); anything else is classified once, in
:func:`connectors.ldap.errors.classify`, and raised with the LDAP error as ``__cause__``.
For a batch of users, ``prepare`` reads them ahead and sends their writes together
(:mod:`connectors.ldap.batch`); each ``apply`` then picks up its own result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import tenacity
from ldap3.core.exceptions import LDAPException

from connectors.ldap.batch import NOT_IN_BATCH, Batch
from connectors.ldap.connection import ConnectionPool, Session
from connectors.ldap.directory import ENTRY_ALREADY_EXISTS, Directory
from connectors.ldap.errors import ConnectionLostError, LdapResultError, classify
from connectors.ldap.groups import apply_group, delete_group
from connectors.ldap.inventory import LdapInventory
from connectors.ldap.mapping import Layout
from connectors.ldap.names import first_value, is_within, parse_dn
from connectors.ldap.ownership import Ownership
from connectors.ldap.settings import LdapSettings
from connectors.ldap.users import apply_user, delete_user
from reconcile.anchors import AnchorMemory
from reconcile.errors import NotReadyError, TargetError, TargetUnavailableError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind
from reconcile.ports import Action, AnchorBook, Applied

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

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        try:
            applied = self._apply(desired, anchor)
        except NotReadyError as exc:
            if self._memory is not None and exc.anchor:
                self._memory.learn(self.name, desired, Applied(Action.UPDATED, exc.anchor))
            raise
        if self._memory is not None:
            self._memory.learn(self.name, desired, applied)
        return applied

    def _apply(self, desired: Desired, anchor: str | None) -> Applied:
        try:
            try:  # the usual case first, without the retry machinery's cost
                return self._apply_once(desired, anchor)
            except ConnectionLostError as exc:
                lost = [exc]
            return self._retrying(self._again, lost, desired, anchor)
        except TargetError:
            raise
        except (LDAPException, LdapResultError, ConnectionLostError, OSError) as exc:
            raise classify(exc) from exc

    def _again(
        self, lost: list[ConnectionLostError], desired: Desired, anchor: str | None
    ) -> Applied:
        """Tenacity's attempts, the first being the one that already failed (so the number of
        attempts and the waits are what tenacity alone would do)."""
        if lost:
            raise lost.pop()
        return self._apply_once(desired, anchor)

    def close(self) -> None:
        if self._batch is not None:
            self._batch.finish()
        self._pool.close()

    def prepare(self, work: Sequence[tuple[Desired, str | None]]) -> None:
        """Before a batch: read its users ahead in a few searches and send their writes
        together, both in the background (:mod:`connectors.ldap.batch`); each ``apply`` then
        finds its result waiting, or the entries it needs.

        Called by the run loop for each phase (and with nothing after it, to forget): a
        phase's writes are all answered before the next phase starts. A failure of the
        read-ahead costs nothing but speed: each apply then searches on its own."""
        if self._batch is not None:
            self._batch.finish()
        self._batch = None
        users = [(d, anchor) for d, anchor in work if isinstance(d, DesiredIdentity)]
        if users:
            self._batch = Batch(
                self._pool, self.layout, users, self._ensure_containers, self.ownership
            )

    def _apply_once(self, desired: Desired, anchor: str | None) -> Applied:
        batch = self._batch
        taken = (
            batch.take(desired, anchor)
            if batch is not None and isinstance(desired, DesiredIdentity)
            else NOT_IN_BATCH
        )
        if taken.foreseen is not None:
            return taken.foreseen
        with self._pool.session() as session:
            self._ensure_containers(session)
            session.replay = taken.replay  # for the apply's own first request, nothing else
            ownership = taken.ownership or self.ownership.fork()
            directory = Directory(session, self.layout, ownership, taken.prefetched)
            if isinstance(desired, DesiredIdentity):
                return apply_user(directory, desired, anchor)
            if isinstance(desired, DesiredGroup):
                return apply_group(directory, desired, anchor)
            if desired.kind is ResourceKind.GROUP:
                return delete_group(directory, desired, anchor)
            return delete_user(directory, desired, anchor)

    def _ensure_containers(self, session: Session) -> None:
        """Create the users, groups and disabled OUs below the base DN if they are missing."""
        if self._containers_ready:
            return
        with self._lock:
            if self._containers_ready:
                return
            layout = self.layout
            if session.read(layout.base_dn, ["1.1"]) is None:
                raise TargetUnavailableError(
                    f"the base DN '{layout.base_dn}' does not exist in the directory "
                    "(SCIM_SYNC_LDAP_BASE_DN)"
                )
            for dn in dict.fromkeys((layout.users_dn, layout.groups_dn, layout.disabled_dn)):
                if session.read(dn, ["1.1"]) is not None:
                    continue
                rdn = parse_dn(dn)[0]
                if rdn[0][0].lower() != "ou" or not is_within(dn, layout.base_dn):
                    raise TargetUnavailableError(
                        f"the container '{dn}' does not exist and is not an ou= entry below the "
                        "base DN that scim-sync could create; create it"
                    )
                try:
                    session.add(dn, ["organizationalUnit"], {"ou": [first_value(dn)]})
                except LdapResultError as exc:
                    if exc.code != ENTRY_ALREADY_EXISTS:  # another worker was first: fine
                        raise TargetUnavailableError(
                            f"cannot create the container '{dn}': {exc}; create it"
                        ) from exc
                log.info("ldap container created", extra={"dn": dn})
            self._containers_ready = True
