"""Response helpers: SCIM JSON out, request bodies in, errors in one shape."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from inbound.database.availability import (
    RETRY_AFTER_SECONDS,
    DatabaseOutage,
    Trouble,
)
from inbound.errors import ScimError, invalid_syntax
from inbound.input_rules import MAX_JSON_DEPTH, check_body, too_deep

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


_MAY_SPELL_A_CONTROL = (b"\\", b"\x7f", b"\xc2")
"""Bytes without which a JSON text holds no control character: JSON refuses raw C0 bytes in
strings, so a control is an escape (``\\u0000``, ``\\b``), a raw DEL, or a C1 control
(UTF-8 lead byte ``\\xc2``). One-byte searches run at memchr speed; ``find`` rather than
``in``, which first tries each byte string as an integer and raises and clears a TypeError."""


def decode_json(raw: bytes) -> Any:
    """A request body as JSON; empty, malformed, too deeply nested bodies, and bodies with a
    control character in a string, are a 400 that says so (see :func:`check_body`).

    The walk over the decoded body runs only when the bytes show it could find something:
    more brackets than the depth allowed, or a sequence that may spell a control character.
    Most bodies skip it; a 1.2 MB search body full of escaped quotes is walked in about a
    millisecond (:func:`check_body` looks closer only at strings that are not printable)."""
    if not raw.strip():
        raise invalid_syntax("the request body is empty; send a JSON object")
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_syntax(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep() from None
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH or any(
        raw.find(sequence) >= 0 for sequence in _MAY_SPELL_A_CONTROL
    ):
        check_body(body)
    return body


def scim_error_response(exc: ScimError) -> Response[bytes]:
    return scim_response(exc.body(), exc.status, dict(exc.headers))


def error_for(error: Exception, path: str, outage: DatabaseOutage) -> ScimError:
    """The one answer to a failed request, whichever way it came in: the SCIM endpoint
    (:mod:`inbound.web.scim_endpoint`) and the Litestar app's exception handler both ask here,
    so a refusal, an outage and a crash read the same on every route. Call it while handling
    the exception: a crash is logged with its traceback."""
    if isinstance(error, ScimError):
        return error
    if isinstance(error, HTTPException):
        return _framework_error(error)
    return _failure_error(error, path, outage)


def _framework_error(exc: HTTPException) -> ScimError:
    """Litestar's own refusals (no route, 405, 413) in the SCIM shape, keeping headers like
    Allow."""
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 413:
        detail = "the request body is too large"
    return ScimError(exc.status_code, detail, headers=dict(exc.headers or {}))


def _failure_error(error: Exception, path: str, outage: DatabaseOutage) -> ScimError:
    """An exception no handler turned into a SCIM error. A temporary database condition is not
    a broken server: 503 with ``Retry-After`` and no traceback. An unreachable database is said
    once in the log by ``outage``; a busy one (a lock held elsewhere past the wait allowed) is one
    warning line per refused request, as it concerns that request only. Anything else is a
    crash."""
    trouble = outage.report(error, "request refused", path=path)
    if trouble is None:
        return _crash_error(path)
    state = (
        "unavailable"
        if trouble is Trouble.UNREACHABLE
        else "busy (a lock held elsewhere outlasted the wait)"
    )
    return ScimError(
        503,
        f"the staging database is {state}; nothing was changed, retry after "
        f"{RETRY_AFTER_SECONDS} seconds",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _crash_error(path: str) -> ScimError:
    """A bug, not a data problem: logged with its traceback, answered without one."""
    incident = uuid.uuid4().hex[:12]
    log.exception("request crashed", extra={"incident": incident, "path": path})
    return ScimError(500, f"internal error (incident {incident}); the service log has the details")
