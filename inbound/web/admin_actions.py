"""What an administrator can change, each change together with its audit event.

The admin API, the admin page and the ``scim-sync`` command are three doors to the same
changes. Each door names its actor (``admin:<key id>`` for the API and the page, ``cli:<os
user>`` for the command line) and calls one of these methods, so no door can change something
without leaving an audit row, and the doors cannot drift apart in what they record (an
approval written as ``admin`` by one door and as the key's id by another).

Each change and its audit row commit in one transaction: the stores involved (tokens, live
settings, the ledger) take the caller's connection, so a crash or a failed audit write between
the two cannot leave a change nobody recorded, nor an event for a change that was undone.
What lives outside the database (the scheduler's interval, the renewal's due time, a token
cache) is told only after the COMMIT. ``outcome`` is ``none`` when the action found nothing to
change (an unknown dead letter, no open hold). Details carry ids, never secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from inbound.database.audit import AuditLog
from inbound.operator import mint_scim_token
from inbound.web.services import InboundServices

ENTRA_RESTART_SCOPES = ("quarantine", "full")
"""What a restart may reset: ``quarantine`` lifts the quarantine only; ``full`` also has Entra
evaluate every object again (the admin center's *Restart provisioning*)."""
ENTRA_RESTART = "entra restart"


class EntraRestartError(Exception):
    """Entra's job could not be restarted; the message says why (a missing Graph permission
    reads "not permitted: needs …"), fit to show an administrator as it is."""


@dataclass(frozen=True, slots=True)
class AdminActions:
    """The changes one actor makes, each audited under that actor's name."""

    services: InboundServices
    actor: str

    @property
    def _audit(self) -> AuditLog:
        if self.services.console is None:  # the composition root always provides it
            raise RuntimeError("administrator actions need the audit log (ConsoleStores)")
        return self.services.console.audit

    def record(
        self, operation: str, done: bool = True, joined: Connection | None = None, **fields: Any
    ) -> None:
        """The audit event of an action; ``joined`` is the change's transaction. Alone, for an
        action the caller carried out itself (a token renewal run by the command line, whose
        delivery to a sink is no database change)."""
        outcome = "ok" if done else "none"
        self._audit.append(self.actor, operation, outcome=outcome, joined=joined, **fields)

    def issue_token(self, label: str | None = None) -> dict[str, Any]:
        with self._audit.together() as tx:
            issued = mint_scim_token(self.services, label, tx)
            self.record("token.issue", joined=tx, detail={"token_id": issued["id"], "label": label})
        self.services.on_token_change()
        return issued

    def revoke_token(self, token_id: str) -> bool:
        tokens = self.services.tokens
        with self._audit.together() as tx:
            revoked = tokens.revoke(token_id, joined=tx)
            self.record("token.revoke", revoked, tx, detail={"token_id": token_id})
        tokens.forget(token_id)
        if revoked:
            self.services.on_token_change()
        return revoked

    def set_scim_enabled(self, enabled: bool) -> None:
        with self._audit.together() as tx:
            self.services.live_settings.set_scim_enabled(enabled, tx)
            self.record("scim.enable" if enabled else "scim.disable", joined=tx)

    def set_reconcile_interval(self, seconds: float) -> None:
        with self._audit.together() as tx:
            self.services.live_settings.set_reconcile_interval(seconds, tx)
            self.record("settings.interval", joined=tx, detail={"seconds": seconds})
        self.services.on_interval_change(seconds)

    def retry_dead(self, scim_id: str | None, target: str | None = None) -> int:
        """One dead letter (or all, ``scim_id`` None) back in line."""
        ledger = self.services.ledger
        return self._on_dead_letters(
            "dead_letter.retry", scim_id, target, lambda tx: ledger.retry_dead(scim_id, target, tx)
        )

    def skip_dead(self, scim_id: str, target: str | None = None) -> int:
        ledger = self.services.ledger
        return self._on_dead_letters(
            "dead_letter.skip", scim_id, target, lambda tx: ledger.skip_dead(scim_id, target, tx)
        )

    def _on_dead_letters(
        self,
        operation: str,
        scim_id: str | None,
        target: str | None,
        change: Callable[[Connection], int],
    ) -> int:
        with self._audit.together() as tx:
            rows = change(tx)
            detail = {"target": target, "rows": rows}
            self.record(operation, bool(rows), tx, scim_id=scim_id, detail=detail)
        return rows

    def approve_hold(self, hold_id: int | None) -> int:
        """Approve one open hold (or all, ``hold_id`` None); the approver is this actor."""
        ledger, now = self.services.ledger, self.services.clock()
        with self._audit.together() as tx:
            approved = ledger.approve_hold(hold_id, self.actor, now, tx)
            self.record(
                "hold.approve", bool(approved), tx, detail={"hold": hold_id, "holds": approved}
            )
        if approved:
            self.services.on_hold_approved()
        return approved

    def restart_entra(self, scope: str) -> str:
        """Restart Entra's provisioning job; a refusal is audited as ``failed`` and re-raised,
        so the trail shows who tried, not only who succeeded."""
        if scope not in ENTRA_RESTART_SCOPES:
            raise EntraRestartError(
                f"unknown scope {scope[:20]!r}: use one of {', '.join(ENTRA_RESTART_SCOPES)}"
            )
        restart = self.services.entra_restart
        if restart is None:
            raise EntraRestartError(
                "Entra is not watched: the SCIM_SYNC_GRAPH_* settings are unset"
            )
        try:
            job_id = restart(scope)
        except EntraRestartError as exc:
            self._audit.append(
                self.actor,
                ENTRA_RESTART,
                outcome="failed",
                detail={"scope": scope, "error": str(exc)},
            )
            raise
        self.record(ENTRA_RESTART, detail={"scope": scope, "job_id": job_id})
        return job_id
