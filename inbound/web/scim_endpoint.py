"""/Users and /Groups as plain ASGI applications mounted in the Litestar app.

These two endpoints carry almost all of Entra's traffic, and Litestar's per-request machinery
(a ``Request`` object, parameter parsing and validation, guards, a ``Response`` object and its
conversion) cost more than the staging store's own work: a GET by ``userName`` spent about
three times as long in the framework as in the store (py-spy, ``bench_scim``). Mounted with
``@asgi(is_mount=True)``, Litestar still routes the request and its outer middleware still
runs (the request log, metrics and request ids of :mod:`inbound.web.request_log`); from there
on the handler reads the scope itself and sends bytes. The operations, errors and replies are
the same :class:`ScimOperations` calls the rest of the SCIM router makes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import unquote_plus

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from inbound.auth import SecretKind
from inbound.errors import ScimError, not_found
from inbound.schema import ResourceType
from inbound.staging.availability import DatabaseOutage
from inbound.staging.store import Actor
from inbound.web.responses import decode_json, failure_error
from inbound.web.scim_ops import Reply, ScimOperations, make_query, may_be_slow, search_body
from inbound.web.services import InboundServices


class Offload(Protocol):
    """Runs an operation: a read at once, a write in a batch (``changes``: the id it changes),
    a read that may be slow (``slow``) in a worker thread."""

    def __call__(
        self,
        call: Callable[[], Reply],
        write: bool,
        changes: str | None = None,
        *,
        slow: bool = False,
    ) -> Awaitable[Reply]: ...


_encode = msgspec.json.Encoder().encode
_SCIM_JSON = (b"content-type", b"application/scim+json")
MAX_SEARCH_BODY_BYTES = 64 * 1024
"""A SearchRequest holds a filter (at most 4,096 characters) and attribute lists: 64 KiB is
ample, and a larger body is refused before it is read whole or decoded."""
_COLLECTION_METHODS = "GET, POST"
_RESOURCE_METHODS = "GET, PUT, PATCH, DELETE"


class ScimGate:
    """Who may call the SCIM endpoints: a valid SCIM bearer token, while SCIM is enabled.

    The switch is read at most once a second; a disabled server answers 503 within that."""

    def __init__(self, services: InboundServices) -> None:
        self._services = services
        self._enabled = True
        self._checked_at = float("-inf")

    def _scim_enabled(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at > 1.0:
            self._enabled = self._services.runtime.scim_enabled()
            self._checked_at = now
        return self._enabled

    @property
    def outage(self) -> DatabaseOutage:
        """The process's record of whether the database is reachable (logged once)."""
        return self._services.database

    def admit(self, authorization: str) -> str:
        """The actor name for the audit log (``token:<id>``), or a 401/503 ScimError."""
        scheme, _sep, secret = authorization.partition(" ")
        token_id = (
            self._services.tokens.verify(secret.strip(), SecretKind.SCIM)
            if scheme.lower() == "bearer"
            else None
        )
        if token_id is None:
            raise ScimError(
                401,
                "a valid SCIM bearer token is required (Authorization: Bearer <token>); "
                "generate one with 'scim-sync token issue' or on the admin page",
                headers={"WWW-Authenticate": 'Bearer realm="scim-sync"'},
            )
        if not self._scim_enabled():
            raise ScimError(503, "the SCIM server is disabled; an administrator can enable it")
        return f"token:{token_id}"


class ResourceEndpoint:
    """One resource type's endpoint: ``/{Users|Groups}``, ``/.search`` and ``/{id}``."""

    def __init__(
        self,
        rt: ResourceType,
        ops: ScimOperations,
        gate: ScimGate,
        offload: Offload,
        *,
        max_body_bytes: int,
    ) -> None:
        self.rt = rt
        self._ops = ops
        self._gate = gate
        self._offload = offload
        self._max_body = max_body_bytes
        self._prefix = f"/scim/v2/{rt.endpoint}"

    @property
    def prefix(self) -> str:
        """The path the endpoint serves, and below it ``/.search`` and ``/{id}``."""
        return self._prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outage = self._gate.outage
        try:
            reply = await self._dispatch(scope, receive)
            outage.succeeded()
        except ScimError as exc:
            reply = Reply(exc.status, exc.body(), dict(exc.headers))
        except Exception as exc:  # the database went away, or a bug
            error = failure_error(exc, self._prefix, outage)
            reply = Reply(error.status, error.body(), dict(error.headers))
        await _send_reply(send, reply)

    async def _dispatch(self, scope: Any, receive: Receive) -> Reply:
        headers = dict(scope["headers"])
        # mounted: Litestar leaves the path below the mount point in scope["path"]
        rest = str(scope["path"]).strip("/")
        method = scope["method"]
        scope["path_template"] = self._prefix + ("/{scim_id}" if rest and rest != ".search" else "")
        actor = Actor(
            self._gate.admit(headers.get(b"authorization", b"").decode("latin-1")),
            _text(headers.get(b"x-request-id")),
        )
        rt, ops, run = self.rt, self._ops, self._offload
        if not rest:
            if method == "GET":
                query = make_query(_params(scope))
                return await run(lambda: ops.search(rt, query), False, slow=may_be_slow(query))
            if method == "POST":
                body = await self._body(receive)
                return await run(lambda: ops.create(rt, body, actor), True)
            raise _not_allowed(_COLLECTION_METHODS)
        if rest == ".search":
            if method != "POST":
                raise _not_allowed("POST")
            query = search_body(await self._body(receive, MAX_SEARCH_BODY_BYTES))
            return await run(lambda: ops.search(rt, query), False, slow=may_be_slow(query))
        if "/" in rest:
            raise not_found(f"no such endpoint: {self._prefix}/{rest}")
        scim_id, params = rest, _params(scope)
        if method == "GET":
            if_none_match = _text(headers.get(b"if-none-match"))
            return await run(lambda: ops.get(rt, scim_id, params, if_none_match), False)
        if_match = _text(headers.get(b"if-match"))
        if method == "PATCH":
            body = await self._body(receive)
            return await run(
                lambda: ops.patch(rt, scim_id, body, actor, if_match, params), True, scim_id
            )
        if method == "PUT":
            body = await self._body(receive)
            return await run(lambda: ops.replace(rt, scim_id, body, actor, if_match), True, scim_id)
        if method == "DELETE":
            return await run(lambda: ops.delete(rt, scim_id, actor, if_match), True, scim_id)
        raise _not_allowed(_RESOURCE_METHODS)

    async def _body(self, receive: Receive, limit: int | None = None) -> Any:
        """The request body as JSON; empty, oversized or malformed bodies are refused, an
        oversized one as soon as it passes the limit, before the rest is read."""
        limit = self._max_body if limit is None else limit
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Any = await receive()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ScimError(
                    413, f"the request body is larger than {limit:,} bytes, the maximum here"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return decode_json(b"".join(chunks))


class DirectRoutes:
    """Hands requests for the resource endpoints straight to them, ahead of Litestar's
    exception middleware, router and mount (a tenth of a GET's time in process); every other
    path, and any unusual spelling of these (``//``, a longer name), goes on to Litestar, whose
    mounts serve the same endpoints. Sits inside the request observer, so these requests are
    logged and counted like any other."""

    def __init__(self, app: ASGIApp, endpoints: Sequence[ResourceEndpoint]) -> None:
        self._app = app
        self._endpoints = [(e.prefix, e) for e in endpoints]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            path: str = scope["path"]
            for prefix, endpoint in self._endpoints:
                if not path.startswith(prefix):
                    continue
                rest = path[len(prefix) :]
                if rest == "" or (rest[0] == "/" and "//" not in rest):
                    scope["path"] = rest or "/"  # below the endpoint, as a mount leaves it
                    await endpoint(scope, receive, send)
                    return
        await self._app(scope, receive, send)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _params(scope: Scope) -> dict[str, str]:
    """Query parameters, form-decoded as UTF-8; a repeated name keeps its first value.

    ``urllib.parse.parse_qsl`` showed in profiles of the hottest GET; this reads the same
    ``name=value&…`` form and leaves the percent-decoding to ``unquote_plus`` only where a
    part has an escape or a ``+``."""
    raw: bytes = scope["query_string"]
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part in raw.decode("utf-8", "replace").split("&"):
        if not part:
            continue
        name, _eq, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        out.setdefault(name, value)
    return out


def _not_allowed(allowed: str) -> ScimError:
    return ScimError(405, f"method not allowed here; use {allowed}", headers={"Allow": allowed})


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    content = b"" if reply.body is None else _encode(reply.body)
    if reply.body is not None:
        headers.append(_SCIM_JSON)
        headers.append((b"content-length", str(len(content)).encode()))
    start: Any = {"type": "http.response.start", "status": reply.status, "headers": headers}
    await send(start)
    body: Any = {"type": "http.response.body", "body": content}
    await send(body)
