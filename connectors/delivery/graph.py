"""``graph``: the token goes straight into Entra's provisioning job through Microsoft Graph.

Three calls (facts from Microsoft's Graph synchronization API documentation):
1. an app-only access token from the authority (``connectors.entra.session``);
2. ``POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/validateCredentials`` with the new
   ``BaseAddress`` and ``SecretToken``, which makes Entra call this service with the new token,
   so a token Entra cannot use is never saved over one that works;
3. ``PUT /servicePrincipals/{id}/synchronization/secrets`` with the same two keys (204).
Without a configured job ID the service principal's jobs are listed: one job is used, none means
provisioning is not set up yet (validation is skipped), several need ``SCIM_SYNC_GRAPH_JOB_ID``.
"""

from __future__ import annotations

import logging

from connectors.delivery.message import TokenDelivery
from connectors.entra.session import GraphSession
from connectors.entra.settings import GraphSettings
from connectors.outbound.retrying import RequestRetry, send

log = logging.getLogger(__name__)


class GraphSink:
    def __init__(self, settings: GraphSettings, *, policy: RequestRetry) -> None:
        self._session = GraphSession(settings, policy=policy)
        self.scope = self._session.scope

    def deliver(self, delivery: TokenDelivery) -> None:
        session = self._session
        headers = session.headers()
        credentials = [
            {"key": "BaseAddress", "value": delivery.endpoint_url},
            {"key": "SecretToken", "value": delivery.token},
        ]
        job_id = session.job_id(headers)
        if job_id is None:
            log.warning(
                "graph sink found no provisioning job; token saved without validateCredentials"
            )
        else:
            send(
                session.policy,
                "POST",
                f"{session.job_url(job_id)}/validateCredentials",
                what="Graph validateCredentials",
                headers=headers,
                json={"useSavedCredentials": False, "credentials": credentials},
            )
        send(
            session.policy,
            "PUT",
            f"{session.sync_url}/secrets",
            what="Graph PUT synchronization/secrets",
            headers=headers,
            json={"value": credentials},
        )
