"""``graph``: the token goes straight into Entra's provisioning job through Microsoft Graph.

Three calls (facts from Microsoft's Graph synchronization API documentation):
1. an app-only access token from the authority with the OAuth2 client-credentials grant, scope
   ``{Graph origin}/.default`` (so national clouds work when ``API_URL`` points at them);
2. ``POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/validateCredentials`` with the new
   ``BaseAddress`` and ``SecretToken``, which makes Entra call this service with the new token,
   so a token Entra cannot use is never saved over one that works;
3. ``PUT /servicePrincipals/{id}/synchronization/secrets`` with the same two keys (204).
Without a configured job ID the service principal's jobs are listed: one job is used, none means
provisioning is not set up yet (validation is skipped), several need ``SCIM_SYNC_GRAPH_JOB_ID``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from connectors.entra_graph.errors import DeliveryRefusedError
from connectors.entra_graph.retrying import RequestRetry, send
from connectors.entra_graph.settings import GraphSettings
from connectors.entra_graph.wire import TokenDelivery

log = logging.getLogger(__name__)


class GraphSink:
    def __init__(self, settings: GraphSettings, *, policy: RequestRetry) -> None:
        self._settings = settings
        self._policy = policy
        api = settings.api_url.rstrip("/")
        self._sync_url = (
            f"{api}/servicePrincipals/{quote(settings.service_principal_id, safe='')}"
            "/synchronization"
        )
        origin = httpx.URL(api)
        self.scope = f"{origin.scheme}://{origin.netloc.decode()}/.default"

    def deliver(self, delivery: TokenDelivery) -> None:
        headers = {"Authorization": f"Bearer {self._access_token()}"}
        credentials = [
            {"key": "BaseAddress", "value": delivery.endpoint_url},
            {"key": "SecretToken", "value": delivery.token},
        ]
        job_id = self._job_id(headers)
        if job_id is not None:
            send(
                self._policy,
                "POST",
                f"{self._sync_url}/jobs/{quote(job_id, safe='')}/validateCredentials",
                what="Graph validateCredentials",
                headers=headers,
                json={"useSavedCredentials": False, "credentials": credentials},
            )
        send(
            self._policy,
            "PUT",
            f"{self._sync_url}/secrets",
            what="Graph PUT synchronization/secrets",
            headers=headers,
            json={"value": credentials},
        )

    def _access_token(self) -> str:
        settings = self._settings
        response = send(
            self._policy,
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
        token = _json(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryRefusedError("authority token request: the answer has no access_token")
        return token

    def _job_id(self, headers: dict[str, str]) -> str | None:
        if self._settings.job_id:
            return self._settings.job_id
        response = send(
            self._policy,
            "GET",
            f"{self._sync_url}/jobs",
            what="Graph list synchronization jobs",
            headers=headers,
        )
        jobs = [job.get("id") for job in _json(response).get("value", []) if isinstance(job, dict)]
        ids = [job for job in jobs if isinstance(job, str)]
        if not ids:
            log.warning(
                "graph sink found no provisioning job; token saved without validateCredentials"
            )
            return None
        if len(ids) > 1:
            raise DeliveryRefusedError(
                "the service principal has several provisioning jobs "
                f"({', '.join(ids)}); set SCIM_SYNC_GRAPH_JOB_ID to the SCIM one"
            )
        return ids[0]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DeliveryRefusedError(f"{response.request.url.path}: the answer is not a JSON object")
    return body
