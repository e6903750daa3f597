"""Token settings: read under their documented names, refused with the variable to fix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduler.settings import SettingsError, describe, load_settings

GRAPH_ENV = {
    "SCIM_SYNC_TOKEN_SINK": "graph",
    "SCIM_SYNC_GRAPH_TENANT_ID": "tenant",
    "SCIM_SYNC_GRAPH_CLIENT_ID": "client",
    "SCIM_SYNC_GRAPH_CLIENT_SECRET": "secret",
    "SCIM_SYNC_GRAPH_SERVICE_PRINCIPAL_ID": "sp",
}


def test_graph_and_token_settings_keep_their_names() -> None:
    settings = load_settings(
        {
            **GRAPH_ENV,
            "SCIM_SYNC_GRAPH_JOB_ID": "scim.1",
            "SCIM_SYNC_GRAPH_API_URL": "http://127.0.0.1:9/v1.0",
            "SCIM_SYNC_TOKEN_TTL": "6s",
            "SCIM_SYNC_TOKEN_RENEW_BEFORE": "3s",
        }
    )
    assert settings.graph.service_principal_id == "sp" and settings.graph.job_id == "scim.1"
    assert settings.graph.authority_url == "https://login.microsoftonline.com"
    assert settings.token_ttl == timedelta(seconds=6)
    assert settings.token_renew_before == timedelta(seconds=3)
    documented = {row["env"]: row for row in describe()}
    assert documented["SCIM_SYNC_GRAPH_CLIENT_SECRET"]["secret"] is True
    assert documented["SCIM_SYNC_TOKEN_WEBHOOK_SECRET"]["secret"] is True
    assert "SCIM_SYNC_GRAPH_JOB_ID" in documented


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCIM_SYNC_TOKEN_SINK": "graph"}, "needs SCIM_SYNC_GRAPH_TENANT_ID"),
        (
            {**GRAPH_ENV, "SCIM_SYNC_GRAPH_API_URL": "http://graph.example.com/v1.0"},
            "SCIM_SYNC_GRAPH_API_URL: a token would travel in clear text",
        ),
        ({"SCIM_SYNC_TOKEN_SINK": "webhook:https://h.example/t"}, "TOKEN_WEBHOOK_SECRET"),
        ({"SCIM_SYNC_TOKEN_SINK": "s3:bucket"}, "is not none, graph, file:PATH or webhook:URL"),
        ({"SCIM_SYNC_TOKEN_RENEW_BEFORE": "0s"}, "must be positive"),
        ({"SCIM_SYNC_TOKEN_TTL": "1h", "SCIM_SYNC_TOKEN_RENEW_BEFORE": "1h"}, "shorter than"),
        ({"SCIM_SYNC_ADMIN_KEY": "x" * 40}, "SCIM_SYNC_ADMIN_KEY must be 'ssa_'"),
        ({"SCIM_SYNC_ADMIN_KEY": "ssa_short"}, "at least 32"),
    ],
)
def test_unusable_token_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env)
