"""``webhook:URL``: the token is POSTed as JSON to a receiver the operator runs.

The HMAC-SHA256 key is a shared secret of its own, ``SCIM_SYNC_TOKEN_WEBHOOK_SECRET``: not the
admin key (the receiver would then hold the keys to the admin API) and not the token itself
(anyone who saw the body could then sign one). The signature covers the timestamp and the raw
body, ``sha256=hex(HMAC(secret, f"{timestamp}." + body))``, so a receiver that checks it and
refuses timestamps older than a few minutes rejects both forged and replayed deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from connectors.delivery.message import TokenDelivery
from connectors.outbound.retrying import RequestRetry, send

WEBHOOK_SECRET_ENV = "SCIM_SYNC_TOKEN_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
SIGNATURE_HEADER = "X-Scim-Sync-Signature"
TIMESTAMP_HEADER = "X-Scim-Sync-Timestamp"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What a receiver recomputes and compares (in constant time) with the signature header."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookSink:
    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        policy: RequestRetry,
        clock: Callable[[], datetime],
    ) -> None:
        self.url = url
        self._secret = secret
        self._policy = policy
        self._clock = clock

    def deliver(self, delivery: TokenDelivery) -> None:
        post_signed(
            self._policy, self.url, self._secret, self._clock(), delivery.to_json(), "webhook"
        )


def post_signed(
    policy: RequestRetry,
    url: str,
    secret: bytes,
    now: datetime,
    document: dict[str, Any],
    what: str,
) -> None:
    """POST ``document`` as JSON with the timestamp and signature headers (retried)."""
    body = json.dumps(document, sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    send(
        policy,
        "POST",
        url,
        what=what,
        content=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        },
    )
