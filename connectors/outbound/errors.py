"""Why a call out failed (a token delivery, an alert, a Graph read). Messages are safe to log:
they never carry a secret."""

from __future__ import annotations


class TokenDeliveryError(Exception):
    """A delivery did not complete; the renewal job retries it later.

    ``retry_after`` is the delay the far side asked for (HTTP ``Retry-After``), if any;
    ``status`` the HTTP status of the answer that ended the call, so a caller can tell a missing
    permission (403) from other refusals without parsing the message.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class DeliveryUnavailableError(TokenDeliveryError):
    """The sink could not be reached or asked us to come back (network, 5xx, 429)."""


class DeliveryRefusedError(TokenDeliveryError):
    """The sink refused the request as made (credentials, permissions, a wrong ID): retrying
    alone will not help until an operator fixes the configuration the message names."""
