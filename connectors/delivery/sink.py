"""What a sink receives, and how ``SCIM_SYNC_TOKEN_SINK`` turns into one.

``none``, ``graph``, ``file:PATH`` or ``webhook:URL``. A token travels in clear text to the sink,
so every URL must be HTTPS unless it points at this machine (loopback, as in tests and for a
local sidecar).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import httpx

from connectors.delivery.file import FileSink
from connectors.delivery.graph import GraphSink
from connectors.delivery.message import TokenDelivery
from connectors.delivery.webhook import WEBHOOK_SECRET_ENV, WebhookSink
from connectors.entra.settings import GraphSettings
from connectors.outbound.retrying import RequestRetry

__all__ = [
    "TokenDelivery",
    "TokenSink",
    "build_sink",
    "describe_sink",
    "sink_problems",
    "url_problem",
]

MIN_WEBHOOK_SECRET = 32


class TokenSink(Protocol):
    def deliver(self, delivery: TokenDelivery) -> None:
        """Hand the token over, or raise ``TokenDeliveryError``."""


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(name: str, url: str, carries: str = "a token") -> str | None:
    """Why ``url`` may not receive what it ``carries``, naming the variable; None when fine."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return f"{name}: '{url}' is not a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"{name}: '{url}' is not an http(s) URL"
    if parsed.scheme != "https" and not _is_loopback(url):
        return (
            f"{name}: {carries} would travel in clear text; use https:// (http:// only to loopback)"
        )
    return None


def sink_problems(spec: str, graph: GraphSettings, webhook_secret: str) -> list[str]:
    """Everything wrong with the sink settings, each naming the variable to fix."""
    name = "SCIM_SYNC_TOKEN_SINK"
    if spec == "none":
        return []
    if spec == "graph":
        problems = [f"{name}=graph needs {var}" for var in graph.missing()]
        for var, url in (
            ("SCIM_SYNC_GRAPH_AUTHORITY_URL", graph.authority_url),
            ("SCIM_SYNC_GRAPH_API_URL", graph.api_url),
        ):
            problem = url_problem(var, url)
            if problem:
                problems.append(problem)
        return problems
    if spec.startswith("file:"):
        return [] if spec.removeprefix("file:").strip() else [f"{name}: file: needs a path"]
    if spec.startswith("webhook:"):
        problems = []
        problem = url_problem(name, spec.removeprefix("webhook:"))
        if problem:
            problems.append(problem)
        if len(webhook_secret) < MIN_WEBHOOK_SECRET:
            problems.append(
                f"{name}=webhook:… needs {WEBHOOK_SECRET_ENV}, a shared secret of at least "
                f"{MIN_WEBHOOK_SECRET} characters (e.g. openssl rand -hex 32)"
            )
        return problems
    return [f"{name}: '{spec}' is not none, graph, file:PATH or webhook:URL"]


def describe_sink(spec: str, graph: GraphSettings) -> str:
    """The sink as ``status`` shows it: no query string, no user info, no secret."""
    if spec == "graph":
        return f"graph:servicePrincipals/{graph.service_principal_id}"
    if spec.startswith("webhook:"):
        url = httpx.URL(spec.removeprefix("webhook:"))
        return f"webhook:{url.copy_with(query=None, fragment=None, userinfo=b'')}"
    return spec


def build_sink(
    spec: str,
    graph: GraphSettings,
    webhook_secret: str,
    *,
    clock: Callable[[], datetime],
    policy: RequestRetry | None = None,
) -> TokenSink | None:
    """The sink the settings name, or None for ``none``; settings were validated before."""
    policy = policy or RequestRetry()
    if spec == "graph":
        return GraphSink(graph, policy=policy)
    if spec.startswith("file:"):
        return FileSink(spec.removeprefix("file:").strip())
    if spec.startswith("webhook:"):
        return WebhookSink(
            spec.removeprefix("webhook:"), webhook_secret.encode(), policy=policy, clock=clock
        )
    return None
