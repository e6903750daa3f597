"""Entra's side of provisioning, read through Graph: the job's health, its provisioning log, and
its restart action.

Calls (facts from Microsoft's Graph documentation):
- ``GET /servicePrincipals/{id}/synchronization/jobs/{jobId}`` — the job and its status
  (application permission ``Synchronization.Read.All``);
- ``GET /auditLogs/provisioning?$filter=servicePrincipal/id eq '{id}' and activityDateTime ge
  {time}`` — provisioning events, paged by ``@odata.nextLink`` (``AuditLog.Read.All`` and
  ``Directory.Read.All``);
- ``POST …/jobs/{jobId}/restart`` with ``{"criteria": {"resetScope": …}}`` → 204
  (``Synchronization.ReadWrite.All``).
A 403 means the app registration lacks the permission: the caller shows "not permitted: needs
…" and backs off, because asking again every few minutes cannot grant it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from connectors.entra.job_records import JobHealth, ProvisioningEntry, parse_entry, parse_job
from connectors.entra.session import GraphSession, json_object
from connectors.entra.settings import GraphSettings
from connectors.outbound.errors import DeliveryRefusedError, TokenDeliveryError
from connectors.outbound.retrying import RequestRetry, send

PERMISSIONS = {
    "job": "Synchronization.Read.All",
    "logs": "AuditLog.Read.All",
    "restart": "Synchronization.ReadWrite.All",
}
"""The least application permission each feature needs (Microsoft's Graph API reference)."""

RESTART_SCOPES = {
    "quarantine": "QuarantineState",
    "full": "Watermark,Escrows,QuarantineState",
}
"""``--scope`` → Graph's ``resetScope``. ``full`` is what the admin center's *Restart
provisioning* does (every object evaluated again, errors cleared, quarantine lifted); Graph's own
``Full`` also clears the connector data store, which Microsoft's documentation says not to use."""

PAGE_SIZE = 500
MAX_PAGES = 200


class GraphCallError(TokenDeliveryError):
    """A Graph read or action failed in a way the caller reports as it is."""


def not_permitted(exc: BaseException, feature: str) -> str | None:
    """ "not permitted: needs …" when Graph refused the app the permission this feature needs."""
    if isinstance(exc, DeliveryRefusedError) and exc.status == 403:
        return f"not permitted: needs {PERMISSIONS[feature]}"
    return None


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EntraReader:
    def __init__(self, settings: GraphSettings, *, policy: RequestRetry | None = None) -> None:
        self._session = GraphSession(settings, policy=policy or RequestRetry())

    def job(self) -> JobHealth | None:
        """The provisioning job now; None while the service principal has none."""
        session = self._session
        headers = session.headers()
        job_id = session.job_id(headers)
        if job_id is None:
            return None
        response = send(
            session.policy,
            "GET",
            session.job_url(job_id),
            what="Graph GET synchronization job",
            headers=headers,
        )
        return parse_job(json_object(response), job_id)

    def provisioning(self, since: datetime) -> list[ProvisioningEntry]:
        """Every event of this service principal from ``since`` on, all pages."""
        session = self._session
        headers = session.headers()
        sp = session.settings.service_principal_id.replace("'", "''")
        url: str | None = f"{session.api_url}/auditLogs/provisioning"
        params: dict[str, str] | None = {
            "$filter": f"servicePrincipal/id eq '{sp}' and activityDateTime ge {graph_time(since)}",
            "$top": str(PAGE_SIZE),
        }
        entries: list[ProvisioningEntry] = []
        for _page in range(MAX_PAGES):
            if url is None:
                break
            response = send(
                session.policy,
                "GET",
                url,
                what="Graph GET auditLogs/provisioning",
                headers=headers,
                params=params,
            )
            body = json_object(response)
            entries.extend(
                entry for item in body.get("value", []) if (entry := parse_entry(item)) is not None
            )
            url, params = self._next_link(body.get("@odata.nextLink")), None
        return entries

    def _next_link(self, link: object) -> str | None:
        """Follow Graph's next page only on Graph's own origin: the link carries our token."""
        if not isinstance(link, str) or not link:
            return None
        api = httpx.URL(self._session.api_url)
        page = httpx.URL(link)
        if (page.scheme, page.host, page.port) != (api.scheme, api.host, api.port):
            raise GraphCallError(f"Graph paged to another origin ({page.host}); stopped there")
        return link

    def restart(self, scope: str) -> str:
        """Restart the job with the given ``--scope``; returns the job id."""
        session = self._session
        headers = session.headers()
        job_id = session.job_id(headers)
        if job_id is None:
            raise GraphCallError("the service principal has no provisioning job to restart")
        send(
            session.policy,
            "POST",
            f"{session.job_url(job_id)}/restart",
            what="Graph POST synchronization job restart",
            headers=headers,
            json={"criteria": {"resetScope": RESTART_SCOPES[scope]}},
        )
        return job_id
