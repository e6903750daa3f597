"""One structured log line and one metrics sample per HTTP request, with a request id.

Wraps the whole Litestar ASGI handler rather than sitting among route middleware, because
Litestar runs route middleware only after a route matched: requests for unknown paths (404)
and refused methods (405) must be counted and logged too.

The request id comes from a sane incoming ``X-Request-ID`` (a proxy's) or is made here; it is
put back into the request headers, so the staging store's audit rows carry it, and returned in
the response. The log line names the route template, never the raw path or query (a filter can
hold a user's name), and never a header or body, so no token or password can reach it.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from inbound.web.metrics import Metrics

log = logging.getLogger(__name__)

_PREFIX = secrets.token_hex(12)
_SEQUENCE = itertools.count(1)
"""Request ids: 32 hex digits, a random prefix per process and a counter — unique across
replicas, without the system call a random UUID per request costs."""

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Other method names are folded into OTHER: a caller must not mint metric label values."""
_LEVELS = {"/healthz": logging.DEBUG, "/readyz": logging.DEBUG, "/metrics": logging.DEBUG}
"""Probes and scrapes arrive every few seconds: counted in metrics, logged only when debugging."""


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The caller's request id when it is short and plain; otherwise None (we make one)."""
    for name, value in headers:
        if name.lower() == HEADER:
            return value.decode("ascii") if _SANE.fullmatch(value) else None
    return None


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        clock: Callable[[], datetime],
        log_line: Callable[[int, str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._clock = clock
        self._log_line = log_line or _through_logging

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        headers = list(scope["headers"])
        request_id = request_id_of(headers)
        if request_id is None:
            request_id = f"{_PREFIX}{next(_SEQUENCE):08x}"
            headers = [(k, v) for k, v in headers if k.lower() != HEADER]
            headers.append((HEADER, request_id.encode()))
            scope["headers"] = headers
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self._metrics.observe_request(route, method, status, elapsed, self._clock())
            level = logging.WARNING if status >= 500 else _LEVELS.get(route, logging.INFO)
            if log.isEnabledFor(level):
                self._log_line(
                    level,
                    "request handled",
                    {
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 2),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )


def _through_logging(level: int, event: str, fields: dict[str, Any]) -> None:
    log.log(level, event, extra=fields)
