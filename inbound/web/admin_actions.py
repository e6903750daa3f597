"""What an administrator can change, each change together with its audit event.

The admin API, the admin page and the ``scim-sync`` command are three doors to the same
changes. Each door names its actor (``admin:<key id>`` for the API and the page, ``cli:<os
user>`` for the command line) and calls one of these methods, so no door can change something
without leaving an audit row, and the doors cannot drift apart in what they record (an
approval written as ``admin`` by one door and as the key's id by another).

The audit row is written after the change succeeded, in a transaction of its own: the
stores involved (tokens, runtime settings, the ledger) each commit alone, and an event for a
change that then failed would be a false record. ``outcome`` is ``none`` when the action found
nothing to change (an unknown dead letter, no open hold). Details carry ids, never secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inbound.operator import issue_scim_token
from inbound.staging.audit import AuditLog
from inbound.web.services import InboundServices


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

    def record(self, operation: str, done: bool = True, **fields: Any) -> None:
        """An action the caller carried out itself (a token renewal run by the command line)."""
        self._audit.append(self.actor, operation, outcome="ok" if done else "none", **fields)

    def issue_token(self, label: str | None = None) -> dict[str, Any]:
        issued = issue_scim_token(self.services, label)
        self.record("token.issue", detail={"token_id": issued["id"], "label": label})
        return issued

    def revoke_token(self, token_id: str) -> bool:
        revoked = self.services.tokens.revoke(token_id)
        if revoked:
            self.services.on_token_change()
        self.record("token.revoke", revoked, detail={"token_id": token_id})
        return revoked

    def set_scim_enabled(self, enabled: bool) -> None:
        self.services.runtime.set_scim_enabled(enabled)
        self.record("scim.enable" if enabled else "scim.disable")

    def set_reconcile_interval(self, seconds: float) -> None:
        self.services.runtime.set_reconcile_interval(seconds)
        self.services.on_interval_change(seconds)
        self.record("settings.interval", detail={"seconds": seconds})

    def retry_dead(self, scim_id: str | None, target: str | None = None) -> int:
        """One dead letter (or all, ``scim_id`` None) back in line."""
        rows = self.services.ledger.retry_dead(scim_id, target)
        self.record(
            "dead_letter.retry",
            bool(rows),
            scim_id=scim_id,
            detail={"target": target, "rows": rows},
        )
        return rows

    def skip_dead(self, scim_id: str, target: str | None = None) -> int:
        rows = self.services.ledger.skip_dead(scim_id, target)
        self.record(
            "dead_letter.skip", bool(rows), scim_id=scim_id, detail={"target": target, "rows": rows}
        )
        return rows

    def approve_hold(self, hold_id: int | None) -> int:
        """Approve one open hold (or all, ``hold_id`` None); the approver is this actor."""
        approved = self.services.ledger.approve_hold(hold_id, self.actor, self.services.clock())
        if approved:
            self.services.on_hold_approved()
        self.record("hold.approve", bool(approved), detail={"hold": hold_id, "holds": approved})
        return approved
