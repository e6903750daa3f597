"""Microsoft Graph's provisioning job, its restart action and its provisioning log, served by the
loopback server with the response shapes Microsoft documents (``synchronizationJob``,
``provisioningObjectSummary`` pages linked by ``@odata.nextLink``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.entra.settings import GraphSettings
from connectors.outbound.retrying import RequestRetry
from tests.support.loopback import Loopback, Recorded, Reply

SP = "sp-1"
JOB = "scim.0a1b2c3d"
TOKEN_PATH = "/authority/tenant-1/oauth2/v2.0/token"
JOB_PATH = f"/graph/v1.0/servicePrincipals/{SP}/synchronization/jobs/{JOB}"
LOGS_PATH = "/graph/v1.0/auditLogs/provisioning"


def settings(base_url: str) -> GraphSettings:
    """Graph settings pointing at the loopback server's ``base_url``."""
    return GraphSettings(
        tenant_id="tenant-1",
        client_id="client-1",
        client_secret="client-secret-1",
        service_principal_id=SP,
        job_id=JOB,
        authority_url=f"{base_url}/authority",
        api_url=f"{base_url}/graph/v1.0",
    )


def policy(sleeps: list[float]) -> RequestRetry:
    return RequestRetry(attempts=3, initial_wait=1, max_wait=4, sleep=sleeps.append)


def authority_ok(server: Loopback) -> None:
    server.route("POST", TOKEN_PATH, Reply(200, {"access_token": "graph-access"}))


def stamp(moment: datetime) -> str:
    """Graph's timestamp form (UTC, ``Z``, seven fractional digits)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def execution(ended: datetime, state: str = "Succeeded") -> dict[str, Any]:
    return {
        "timeBegan": stamp(ended),
        "timeEnded": stamp(ended),
        "state": state,
        "error": None,
        "countExported": 3,
    }


def job(
    code: str = "Active",
    *,
    last_success: datetime | None = None,
    quarantined_since: datetime | None = None,
    failures: int = 0,
) -> dict[str, Any]:
    quarantine = None
    if quarantined_since is not None:
        quarantine = {
            "currentBegan": stamp(quarantined_since),
            "nextAttempt": "2026-12-01T12:00:00Z",
            "reason": "EncounteredQuarantineException",
            "seriesBegan": stamp(quarantined_since),
            "seriesCount": 1,
            "error": {"code": "HttpNotFound", "message": "404 from the target"},
        }
    success = execution(last_success) if last_success else None
    return {
        "id": JOB,
        "templateId": "scim",
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {
            "code": code,
            "countSuccessiveCompleteFailures": failures,
            "escrowsPruned": False,
            "lastExecution": execution(last_success or datetime(2026, 11, 30, tzinfo=UTC)),
            "lastSuccessfulExecution": success,
            "lastSuccessfulExecutionWithExports": success,
            "progress": [],
            "quarantine": quarantine,
            "steadyStateFirstAchievedTime": "2026-11-01T08:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
            "synchronizedEntryCountByType": [],
            "troubleshootingUrl": None,
        },
    }


def entry(
    entry_id: str,
    at: datetime,
    *,
    action: str = "update",
    status: str = "success",
    target_id: str | None = None,
    source_id: str = "entra-object-1",
    error_code: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    error = None
    if status == "failure":
        error = {
            "errorCode": error_code,
            "errorCategory": "NonServiceFailure",
            "reason": reason,
            "additionalDetails": None,
            "recommendedAction": None,
        }
    return {
        "id": entry_id,
        "activityDateTime": stamp(at),
        "changeId": f"change-{entry_id}",
        "cycleId": "cycle-1",
        "durationInMilliseconds": 120,
        "jobId": JOB,
        "provisioningAction": action,
        "provisioningStatusInfo": {"status": status, "errorInformation": error},
        "provisioningSteps": [],
        "servicePrincipal": {"id": SP, "displayName": "scim-sync"},
        "sourceIdentity": {"id": source_id, "displayName": "Ada", "identityType": "User"},
        "sourceSystem": {"id": "src", "displayName": "Azure Active Directory"},
        "targetIdentity": {"id": target_id or "", "displayName": "Ada", "identityType": "urn:User"},
        "targetSystem": {"id": "tgt", "displayName": "scim-sync"},
    }


def serve_logs(server: Loopback, pages: list[list[dict[str, Any]]]) -> None:
    """The log in pages: each answer links the next with ``@odata.nextLink`` (``$skiptoken``)."""

    def answer(request: Recorded) -> Reply:
        page = int(request.query().get("$skiptoken", "0"))
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/provisioning",
            "value": pages[page] if page < len(pages) else [],
        }
        if page + 1 < len(pages):
            body["@odata.nextLink"] = f"{server.url}{LOGS_PATH}?$skiptoken={page + 1}"
        return Reply(200, body)

    server.route("GET", LOGS_PATH, answer)


def forbidden(permission_hint: str) -> Reply:
    return Reply(
        403,
        {
            "error": {
                "code": "Authorization_RequestDenied",
                "message": f"Insufficient privileges to complete the operation ({permission_hint}).",
            }
        },
    )
