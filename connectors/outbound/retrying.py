"""One HTTP request, retried while the far side is unreachable or asks us to come back.

Transient failures (connection errors, timeouts, 408/425/429/5xx) are retried with tenacity's
exponential backoff and jitter; a 429 or 503 ``Retry-After`` is honoured as the wait. When the
far side asks for longer than ``max_retry_after``, the request gives up at once and hands the
delay to the renewal job, which persists it instead of holding a thread asleep. Any other 4xx
is a refusal that retrying cannot fix. The policy is data so tests inject ``sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.outbound.errors import DeliveryRefusedError, DeliveryUnavailableError

TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RequestRetry:
    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0
    max_retry_after: float = 120.0
    timeout: float = 30.0
    sleep: Callable[[float], None] = time.sleep


class _TransientError(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_response(response: httpx.Response) -> str:
    """``HTTP 403 Authorization_RequestDenied: …`` from Graph's and the authority's error bodies."""
    summary = ""
    try:
        body: Any = response.json()
    except ValueError:
        summary = response.text[:200].strip()
    else:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            summary = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
        elif isinstance(error, str):
            summary = f"{error}: {body.get('error_description', '')}".strip(": ")
    return f"HTTP {response.status_code}" + (f" {summary[:300]}" if summary else "")


def _wait(policy: RequestRetry) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _TransientError) and error.retry_after is not None:
            return error.retry_after
        return float(backoff(state))

    return wait


def send(
    policy: RequestRetry, method: str, url: str, *, what: str, **kwargs: Any
) -> httpx.Response:
    """A 2xx response to the request, or a ``TokenDeliveryError`` that says what failed."""
    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        retry=retry_if_exception_type(_TransientError),
        sleep=policy.sleep,
        reraise=True,
    )
    try:
        with httpx.Client(timeout=policy.timeout) as client:
            for attempt in retrying:
                with attempt:
                    return _once(client, policy, method, url, what, **kwargs)
    except _TransientError as exc:
        raise DeliveryUnavailableError(
            f"{what}: {exc.reason} (gave up after {policy.attempts} attempts)",
            retry_after=exc.retry_after,
        ) from exc
    raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover


def _once(
    client: httpx.Client, policy: RequestRetry, method: str, url: str, what: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise _TransientError(f"cannot reach {_origin(url)} ({type(exc).__name__})") from exc
    if response.is_success:
        return response
    reason = describe_response(response)
    if response.status_code in TRANSIENT_STATUS:
        delay = retry_after_seconds(response.headers.get("retry-after"))
        if delay is not None and delay > policy.max_retry_after:
            raise DeliveryUnavailableError(
                f"{what}: {reason}; asked to retry after {delay:g}s",
                retry_after=delay,
                status=response.status_code,
            )
        raise _TransientError(reason, delay)
    raise DeliveryRefusedError(f"{what}: {reason}", status=response.status_code)


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
