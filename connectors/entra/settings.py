"""Settings of the Microsoft Graph session (the ``graph`` token sink and the Entra watch);
``scheduler.settings`` reads them with the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "SCIM_SYNC_"


def _doc(text: str, env: str, secret: bool = False) -> Any:
    return {"doc": text, "env": ENV_PREFIX + env, "secret": secret}


@dataclass(frozen=True)
class GraphSettings:
    tenant_id: str = field(default="", metadata=_doc("Entra tenant ID", "GRAPH_TENANT_ID"))
    client_id: str = field(
        default="",
        metadata=_doc("app (client) ID with Synchronization.ReadWrite.All", "GRAPH_CLIENT_ID"),
    )
    client_secret: str = field(
        default="", metadata=_doc("that app's client secret", "GRAPH_CLIENT_SECRET", True)
    )
    service_principal_id: str = field(
        default="",
        metadata=_doc(
            "object ID of the enterprise app's service principal", "GRAPH_SERVICE_PRINCIPAL_ID"
        ),
    )
    job_id: str = field(
        default="",
        metadata=_doc(
            "provisioning job whose validateCredentials checks a new token; empty: the "
            "service principal's only job",
            "GRAPH_JOB_ID",
        ),
    )
    authority_url: str = field(
        default="https://login.microsoftonline.com",
        metadata=_doc("OAuth2 authority", "GRAPH_AUTHORITY_URL"),
    )
    api_url: str = field(
        default="https://graph.microsoft.com/v1.0",
        metadata=_doc("Microsoft Graph base URL", "GRAPH_API_URL"),
    )

    def missing(self) -> list[str]:
        """The variables the Graph sink needs and does not have."""
        required = ("tenant_id", "client_id", "client_secret", "service_principal_id")
        return [f"{ENV_PREFIX}GRAPH_{name.upper()}" for name in required if not getattr(self, name)]
