"""Admin page sessions, kept in the database so any web replica can serve any request.

The browser holds a random session secret in a cookie; the database holds only a SHA-256 of
it (like every other secret here), under a ``session:`` key of the live settings' table
(``runtime_settings``), so no migration is needed and two processes behind a load balancer
agree at once. Logging out
deletes the row, which ends the session everywhere, and a session also dies with the admin
key that opened it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from inbound.database.service_tables import live_settings
from inbound.database.tables import reading

S = live_settings.c
Clock = Callable[[], datetime]

KEY_PREFIX = "session:"
SESSION_PREFIX = "sss_"
DEFAULT_TTL = timedelta(hours=8)


def _key(secret: str) -> str:
    # The settings key column is 64 characters: 8 for the prefix, 56 hex digits (224 bits).
    return KEY_PREFIX + hashlib.sha256(secret.encode()).hexdigest()[:56]


@dataclass(frozen=True, slots=True)
class AdminSession:
    admin_token_id: str
    created_at: datetime
    expires_at: datetime
    csrf_token: str
    """Derived from the session secret: a page that cannot read the cookie cannot forge it."""


def csrf_for(secret: str) -> str:
    return hashlib.sha256(b"csrf\0" + secret.encode()).hexdigest()[:40]


class SessionStore:
    def __init__(self, engine: Engine, *, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._engine = engine
        self._clock = clock
        self.ttl = ttl

    def open(self, admin_token_id: str) -> str:
        """A new session for a verified admin key; returns the secret for the cookie."""
        now = self._clock()
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        value = json.dumps(
            {
                "admin_token_id": admin_token_id,
                "created_at": now.isoformat(),
                "expires_at": (now + self.ttl).isoformat(),
            }
        )
        with self._engine.begin() as conn:
            conn.execute(
                insert(live_settings).values(key=_key(secret), value=value, updated_at=now)
            )
        self.purge_expired()
        return secret

    def lookup(self, secret: str | None) -> AdminSession | None:
        if not secret or not secret.startswith(SESSION_PREFIX) or len(secret) > 100:
            return None
        with reading(self._engine) as conn:
            raw = conn.execute(select(S.value).where(S.key == _key(secret))).scalar()
        if raw is None:
            return None
        data = json.loads(raw)
        expires_at = datetime.fromisoformat(data["expires_at"])
        if self._clock() >= expires_at:
            return None
        return AdminSession(
            data["admin_token_id"],
            datetime.fromisoformat(data["created_at"]),
            expires_at,
            csrf_for(secret),
        )

    def close(self, secret: str | None) -> None:
        if secret:
            with self._engine.begin() as conn:
                conn.execute(delete(live_settings).where(S.key == _key(secret)))

    def purge_expired(self) -> int:
        """Drop ended sessions; run on every login, so the rows stay few without a job."""
        now = self._clock()
        with self._engine.begin() as conn:
            rows = conn.execute(select(S.key, S.value).where(S.key.startswith(KEY_PREFIX))).all()
            ended = [
                key
                for key, value in rows
                if datetime.fromisoformat(json.loads(value)["expires_at"]) <= now
            ]
            if ended:
                conn.execute(delete(live_settings).where(S.key.in_(ended)))
        return len(ended)
