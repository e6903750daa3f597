"""The one way scim-sync talks to Microsoft Graph: an app-only access token, then calls.

Token delivery (``connectors.delivery.graph``), the job health poller and the provisioning log
reader (``health.py``) share it, so they share the authority request, the job lookup and the
retry policy (``connectors.outbound.retrying``). Facts from Microsoft's identity platform
documentation: the client-credentials grant at ``{authority}/{tenant}/oauth2/v2.0/token``
with the scope ``{Graph origin}/.default`` (so national clouds work when ``API_URL`` points at
them).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from connectors.entra.settings import GraphSettings
from connectors.outbound.errors import DeliveryRefusedError
from connectors.outbound.retrying import RequestRetry, send

log = logging.getLogger(__name__)


class GraphSession:
    def __init__(self, settings: GraphSettings, *, policy: RequestRetry) -> None:
        self.settings = settings
        self.policy = policy
        self.api_url = settings.api_url.rstrip("/")
        self.sync_url = (
            f"{self.api_url}/servicePrincipals/{quote(settings.service_principal_id, safe='')}"
            "/synchronization"
        )
        origin = httpx.URL(self.api_url)
        self.scope = f"{origin.scheme}://{origin.netloc.decode()}/.default"

    def headers(self) -> dict[str, str]:
        """Authorization for the calls that follow; a fresh app-only token each time."""
        return {"Authorization": f"Bearer {self.access_token()}"}

    def access_token(self) -> str:
        settings = self.settings
        response = send(
            self.policy,
            "POST",
            f"{settings.authority_url.rstrip('/')}/{quote(settings.tenant_id, safe='')}"
            "/oauth2/v2.0/token",
            what="authority token request",
            data={
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
                "scope": self.scope,
            },
        )
        token = json_object(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryRefusedError("authority token request: the answer has no access_token")
        return token

    def job_url(self, job_id: str) -> str:
        return f"{self.sync_url}/jobs/{quote(job_id, safe='')}"

    def job_id(self, headers: dict[str, str]) -> str | None:
        """``SCIM_SYNC_GRAPH_JOB_ID``, else the service principal's only provisioning job;
        None when it has none yet (provisioning not set up); several need the setting."""
        if self.settings.job_id:
            return self.settings.job_id
        response = send(
            self.policy,
            "GET",
            f"{self.sync_url}/jobs",
            what="Graph list synchronization jobs",
            headers=headers,
        )
        jobs = [
            job.get("id") for job in json_object(response).get("value", []) if isinstance(job, dict)
        ]
        ids = [job for job in jobs if isinstance(job, str)]
        if len(ids) > 1:
            raise DeliveryRefusedError(
                "the service principal has several provisioning jobs "
                f"({', '.join(ids)}); set SCIM_SYNC_GRAPH_JOB_ID to the SCIM one"
            )
        return ids[0] if ids else None


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DeliveryRefusedError(f"{response.request.url.path}: the answer is not a JSON object")
    return body
