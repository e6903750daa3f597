"""The one message every sink carries: a fresh SCIM token and where Entra should use it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenDelivery:
    token: str
    token_id: str
    expires_at: datetime
    endpoint_url: str
    """Entra's Tenant URL (``…/scim/v2``), sent with the token as Graph's ``BaseAddress``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "id": self.token_id,
            "expires_at": self.expires_at.isoformat(),
            "endpoint_url": self.endpoint_url,
        }

    def __repr__(self) -> str:
        return f"TokenDelivery(token_id={self.token_id!r}, token=***)"
