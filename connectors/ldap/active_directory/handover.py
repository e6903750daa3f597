"""Handing first passwords over: ``SCIM_SYNC_LDAP_PASSWORD_SINK``.

By default (``none``) nobody learns a new account's first password: the account is activated by
a reset (self-service or helpdesk). An organisation that hands out first passwords names a file:
each new account appends one JSON line (``dn``, ``sAMAccountName``, ``userPrincipalName``,
``scim_id``, ``password``) to it, created with mode 0600 from its first byte and written with
``O_APPEND`` so several workers never interleave lines. The password is revealed only into that
write. Or it names a webhook, which receives the same document as a POST signed like the token
webhook, with a key of its own (``SCIM_SYNC_LDAP_PASSWORD_WEBHOOK_SECRET``). A failed handover
stops the add before the account exists (the apply retries), so no account is created with a
password nobody can hand over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from connectors.delivery.webhook import post_signed
from connectors.ldap.active_directory.passwords import NewPassword
from connectors.outbound.errors import TokenDeliveryError
from connectors.outbound.retrying import RequestRetry
from reconcile.errors import TransientTargetError
from reconcile.model import DesiredIdentity

FILE_MODE = 0o600


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _document(
    desired: DesiredIdentity, dn: str, sam: str, password: NewPassword
) -> dict[str, str | None]:
    return {
        "dn": dn,
        "sAMAccountName": sam,
        "userPrincipalName": desired.email,
        "scim_id": desired.scim_id,
        "password": password.reveal(),
    }


class PasswordFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser().absolute()

    def __call__(self, desired: DesiredIdentity, dn: str, sam: str, password: NewPassword) -> None:
        data = (json.dumps(_document(desired, dn, sam, password)) + "\n").encode()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise TransientTargetError(
                f"cannot hand the first password of '{sam}' over to {self.path} "
                f"(SCIM_SYNC_LDAP_PASSWORD_SINK): {exc.strerror}; the account was not created"
            ) from None


class PasswordWebhook:
    """POSTs the same document, signed like the token webhook (``X-Scim-Sync-Signature`` over
    the timestamp and the body), so a receiver can refuse forged and replayed deliveries."""

    def __init__(self, url: str, secret: str, clock: Callable[[], datetime]) -> None:
        self.url = url
        self._secret = secret.encode()
        self._clock = clock

    def __call__(self, desired: DesiredIdentity, dn: str, sam: str, password: NewPassword) -> None:
        try:
            post_signed(
                RequestRetry(),
                self.url,
                self._secret,
                self._clock(),
                _document(desired, dn, sam, password),
                "first-password webhook",
            )
        except (TokenDeliveryError, httpx.HTTPError) as exc:
            raise TransientTargetError(
                f"cannot hand the first password of '{sam}' over to the webhook "
                f"(SCIM_SYNC_LDAP_PASSWORD_SINK): {type(exc).__name__}; the account was not "
                "created"
            ) from None


def password_handover(
    sink: str, webhook_secret: str = "", clock: Callable[[], datetime] = _utcnow
) -> PasswordFile | PasswordWebhook | None:
    """The handover ``SCIM_SYNC_LDAP_PASSWORD_SINK`` names; None for ``none``."""
    if sink.startswith("file:"):
        return PasswordFile(sink.removeprefix("file:").strip())
    if sink.startswith("webhook:"):
        return PasswordWebhook(sink.removeprefix("webhook:"), webhook_secret, clock)
    return None
