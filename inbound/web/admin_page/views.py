"""What the admin page shows, gathered from the same services the admin API uses.

Kept apart from the handlers so the page's content is plain data (easy to test and to render)
and the handlers only parse, act and redirect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inbound.auth import SecretKind
from inbound.filter import AttrPath, Compare, Or
from inbound.operator import status_report
from inbound.schema import USER_TYPE
from inbound.web.admin_page.login import console_of
from inbound.web.admin_page.object_view import object_timeline
from inbound.web.services import InboundServices

IDENTITY_PAGE = 20
AUDIT_PAGE = 50

NOTICES = {
    "enabled": "The SCIM server is enabled.",
    "disabled": "The SCIM server is disabled: Entra's requests are answered 503.",
    "revoked": "The token was revoked.",
    "frequency": "The provisioning frequency was saved.",
    "retried": "The dead letter was put back in line; the next run tries it again.",
    "skipped": "The dead letter was skipped; a newer change from Entra is tried again.",
    "approved": "The held changes were approved; the next run applies them.",
    "entra-restarted": "Entra's provisioning job was restarted; its next cycle starts soon.",
}
"""Fixed messages a redirect may name, so no caller-supplied text is ever echoed."""


def human_seconds(seconds: float | None) -> str:
    """``3h 05m`` style, for ages and countdowns a person reads at a glance."""
    if seconds is None:
        return "—"
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    sign = "-" if seconds < 0 else ""
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def when(iso: str | None) -> str:
    """An ISO timestamp as a person reads it: to the second, in UTC, without the offset noise."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def target_rows(services: InboundServices, now: datetime) -> list[dict[str, Any]]:
    errors = console_of(services).overview.last_errors(services.target_names)
    rows = []
    for name in services.target_names:
        summary = services.ledger.summary(name, now)
        error = errors.get(name)
        rows.append(
            {
                "name": name,
                **summary,
                "oldest_pending": human_seconds(summary["oldest_pending_seconds"]),
                "last_error": error.error if error else None,
                "last_error_at": _iso(error.at) if error else None,
                "last_error_scim_id": error.scim_id if error else None,
            }
        )
    return rows


def token_rows(services: InboundServices, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "label": t.label or "",
            "created_at": _iso(t.created_at),
            "expires_at": _iso(t.expires_at),
            "expires_in": human_seconds((t.expires_at - now).total_seconds())
            if t.expires_at
            else "never",
        }
        for t in services.tokens.list(SecretKind.SCIM, live_only=True)
    ]


def identity_rows(services: InboundServices, query: str) -> tuple[int, list[dict[str, Any]]]:
    """Staged users whose userName or displayName contains ``query`` (all when empty)."""
    node = (
        Or(
            Compare(AttrPath(None, "userName"), "co", query),
            Compare(AttrPath(None, "displayName"), "co", query),
        )
        if query
        else None
    )
    total, page = services.store.search(
        USER_TYPE, node, count=IDENTITY_PAGE, with_members=False, with_groups=False
    )
    rows = []
    for stored in page:
        states = services.ledger.states_of(stored.scim_id, services.target_names)
        rows.append(
            {
                "scim_id": stored.scim_id,
                "user_id": stored.data.get("userName"),
                "display_name": stored.data.get("displayName") or "",
                "active": stored.data.get("active", True) is not False,
                "generation": stored.generation,
                "states": [
                    {
                        "target": s.target,
                        "status": s.status,
                        "observed_generation": s.observed_generation,
                        "last_error": s.last_error,
                    }
                    for s in states
                ],
            }
        )
    return total, rows


def entra_view(services: InboundServices, report: dict[str, Any] | None) -> dict[str, Any]:
    """The job as the last poll saw it; "not watched" only when Graph is not configured at all
    (configured but not read yet is a different story: the worker has not polled)."""
    return {
        "report": report,
        "graph_configured": services.entra_restart is not None,
    }


def page_context(
    services: InboundServices,
    *,
    query: str = "",
    audit_scim_id: str = "",
    notice: str = "",
    object_query: str = "",
) -> dict[str, Any]:
    now = services.clock()
    status = status_report(services)
    total, identities = identity_rows(services, query)
    events = console_of(services).audit.query(scim_id=audit_scim_id or None, limit=AUDIT_PAGE)
    return {
        "status": status,
        "token_expires_in": human_seconds(status["token_expires_in_seconds"]),
        "targets": target_rows(services, now),
        "tokens": token_rows(services, now),
        "dead_letters": services.ledger.dead_letters(),
        "holds": services.ledger.holds(),
        "identity_query": query,
        "identity_total": total,
        "identities": identities,
        "audit_scim_id": audit_scim_id,
        "audit_events": [e.to_json() for e in events],
        "notice": NOTICES.get(notice, ""),
        "entra": entra_view(services, status["entra"]),
        "object_query": object_query,
        "object": object_timeline(services, object_query) if object_query else None,
    }
