"""One object's story on the admin page: our audit trail, each target's state and Entra's
provisioning log, merged into one timeline.

An administrator comes here with what Entra's portal shows them (a user ID, a group name) or
what our logs show (a SCIM id), so all three are looked up. Entra's entries come from
``EntraHealthStore.timeline``, the same join ``scim-sync identities get --json`` prints, so the
page and the command line cannot disagree on which Entra failure "never reached us".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inbound.database.stored import Stored
from inbound.filter import AttrPath, Compare
from inbound.schema import GROUP_TYPE, USER_TYPE, ResourceType
from inbound.web.admin_page.login import console_of
from inbound.web.services import InboundServices

TIMELINE_AUDIT_EVENTS = 100

LOOKUPS: tuple[tuple[ResourceType, str], ...] = (
    (USER_TYPE, "id"),
    (GROUP_TYPE, "id"),
    (USER_TYPE, "userName"),
    (GROUP_TYPE, "displayName"),
)
"""In this order: a SCIM id is unique across kinds, a user ID names one user, and a group name
is looked up last because a user ID could look like one."""


def find_object(services: InboundServices, wanted: str) -> tuple[ResourceType, Stored] | None:
    for rt, attribute in LOOKUPS:
        _total, found = services.store.search(
            rt,
            Compare(AttrPath(None, attribute), "eq", wanted),
            count=1,
            with_members=False,
            with_groups=False,
        )
        if found:
            return rt, found[0]
    return None


def _ours(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": event["at"],
        "source": "scim-sync",
        "what": event["operation"],
        "outcome": event["outcome"],
        "by": event["actor"],
        "reference": event["request_id"] or "",
        "detail": event["detail"],
        "flag": None,
        "our_request": None,
    }


def _entra(entry: dict[str, Any]) -> dict[str, Any]:
    reason = " ".join(part for part in (entry["error_code"], entry["error_reason"]) if part)
    matched = entry["our_request"]
    return {
        "at": entry["at"],
        "source": "Entra",
        "what": entry["action"],
        "outcome": entry["status"],
        "by": f"cycle {entry['cycle_id']}" if entry["cycle_id"] else "Entra",
        "reference": entry["change_id"] or entry["id"],
        "detail": reason or None,
        "flag": entry["flag"],
        "our_request": matched["request_id"] if matched else None,
    }


def object_timeline(services: InboundServices, wanted: str) -> dict[str, Any] | None:
    """Everything known of one object, newest first; None when nothing matches ``wanted``."""
    found = find_object(services, wanted)
    if found is None:
        return None
    rt, stored = found
    console = console_of(services)
    events = [
        _ours(e.to_json())
        for e in console.audit.query(scim_id=stored.scim_id, limit=TIMELINE_AUDIT_EVENTS)
    ]
    entries = [_entra(entry) for entry in console.entra.timeline(stored.scim_id)]
    merged = sorted(events + entries, key=lambda row: datetime.fromisoformat(row["at"]))
    states = services.ledger.states_of(stored.scim_id, services.target_names)
    return {
        "scim_id": stored.scim_id,
        "kind": rt.name,
        "name": stored.data.get("userName") or stored.data.get("displayName") or "",
        "states": [
            {
                "target": s.target,
                "status": s.status,
                "generation": s.observed_generation,
                "last_error": s.last_error,
            }
            for s in states
        ],
        "rows": merged[::-1],
        "never_reached_us": sum(1 for row in entries if row["flag"]),
    }
