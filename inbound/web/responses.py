"""Response helpers: SCIM JSON out, request bodies in, errors in one shape."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from inbound.errors import ScimError, invalid_syntax
from inbound.staging.availability import (
    RETRY_AFTER_SECONDS,
    DatabaseOutage,
    database_unavailable,
)

log = logging.getLogger(__name__)

SCIM_MEDIA = "application/scim+json"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def scim_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=_encoder.encode(body), status_code=status, media_type=SCIM_MEDIA, headers=headers
    )


def json_response(body: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=_encoder.encode(body), status_code=status, media_type="application/json"
    )


async def read_json(request: Request[Any, Any, Any]) -> Any:
    return decode_json(await request.body())


def decode_json(raw: bytes) -> Any:
    """A request body as JSON; empty or malformed bodies are a 400 that says so."""
    if not raw.strip():
        raise invalid_syntax("the request body is empty; send a JSON object")
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_syntax(f"the request body is not valid JSON: {exc}") from None


def scim_error_response(exc: ScimError) -> Response[bytes]:
    headers = dict(exc.headers)
    return scim_response(exc.body(), exc.status, headers)


def handle_scim_error(_: Request[Any, Any, Any], exc: ScimError) -> Response[bytes]:
    return scim_error_response(exc)


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Framework errors (404 route, 405, 413) in the SCIM shape, keeping headers like Allow."""
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 413:
        detail = "the request body is too large"
    error = ScimError(exc.status_code, detail, headers=dict(exc.headers or {}))
    return scim_error_response(error)


def failure_error(error: Exception, path: str, outage: DatabaseOutage) -> ScimError:
    """The answer to an exception no handler turned into a SCIM error (call it while handling
    the exception). An unreachable database is a temporary outage, not a broken server: 503
    with ``Retry-After``, said once in the log by ``outage``; anything else is a crash."""
    if database_unavailable(error):
        outage.failed(error)
        return ScimError(
            503,
            "the staging database is unavailable; nothing was changed, retry after "
            f"{RETRY_AFTER_SECONDS} seconds",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return crash_error(path)


def crash_error(path: str) -> ScimError:
    """A bug, not a data problem: logged with its traceback (call it while handling the
    exception), answered without one."""
    incident = uuid.uuid4().hex[:12]
    log.exception("request crashed", extra={"incident": incident, "path": path})
    return ScimError(500, f"internal error (incident {incident}); the service log has the details")
