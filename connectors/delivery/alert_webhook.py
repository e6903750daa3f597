"""``SCIM_SYNC_ALERT_WEBHOOK``: alerts posted as JSON for installations without Prometheus.

Signed exactly like the token webhook (``webhook.py``): ``X-Scim-Sync-Timestamp`` and
``X-Scim-Sync-Signature: sha256=hex(HMAC(secret, f"{timestamp}." + body))``, with a secret of
its own (``SCIM_SYNC_ALERT_WEBHOOK_SECRET``), so a receiver verifies both the same way and an
alert receiver never holds the key that signs tokens. Each call is retried with tenacity
(``connectors.outbound.retrying``); a body is an alert's change of state, never a token or a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from connectors.delivery.webhook import post_signed
from connectors.outbound.retrying import RequestRetry

ALERT_SECRET_ENV = "SCIM_SYNC_ALERT_WEBHOOK_SECRET"  # noqa: S105 (a variable name)


class AlertWebhook:
    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        clock: Callable[[], datetime],
        policy: RequestRetry | None = None,
    ) -> None:
        self.url = url
        self._secret = secret
        self._clock = clock
        self._policy = policy or RequestRetry()

    def post(self, alert: dict[str, Any]) -> None:
        """Deliver one change of state, or raise ``TokenDeliveryError`` saying why not."""
        post_signed(self._policy, self.url, self._secret, self._clock(), alert, "alert webhook")
