"""What an operator reads and asks for, whichever door they come through: the status report
(``GET /api/v1/status``, the admin page, ``scim-sync status``) and a fresh SCIM token (the
admin API and page, ``scim-sync token issue``, and the first start). The doors differ in how
they show and audit things; what a token or a status *is* is decided once, here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from inbound.auth import SecretKind
from inbound.web.services import InboundServices


def status_report(services: InboundServices) -> dict[str, Any]:
    """What ``scim-sync status`` and ``GET /api/v1/status`` show."""
    now = services.clock()
    expiry = services.tokens.newest_expiry(SecretKind.SCIM)
    return {
        "scim_enabled": services.live_settings.scim_enabled(),
        "endpoint_url": services.endpoint_url,
        "token_expires_at": expiry.isoformat() if expiry else None,
        "token_expires_in_seconds": round((expiry - now).total_seconds()) if expiry else None,
        "token_renewal": services.renewal.report(expiry) if services.renewal else None,
        "reconcile_interval_seconds": services.live_settings.reconcile_interval(
            services.default_reconcile_interval
        ),
        "targets": {name: services.ledger.summary(name, now) for name in services.target_names},
        "entra": services.console.entra.report() if services.console else None,
    }


def issue_scim_token(services: InboundServices, label: str | None = None) -> dict[str, Any]:
    """A new SCIM token as every door shows it (also used by the first start, which is not an
    administrator's action and so is not audited)."""
    shown = mint_scim_token(services, label)
    services.on_token_change()
    return shown


def mint_scim_token(
    services: InboundServices, label: str | None, joined: Connection | None = None
) -> dict[str, Any]:
    """The token row and what is shown of it, inside ``joined`` when an audited action commits
    it together with its audit row; the caller tells the process once that commit is done."""
    issued = services.tokens.issue(SecretKind.SCIM, services.token_ttl, label, joined=joined)
    return {
        "token": issued.secret,
        "id": issued.id,
        "expires_at": issued.expires_at.isoformat() if issued.expires_at else None,
        "endpoint_url": services.endpoint_url,
    }
