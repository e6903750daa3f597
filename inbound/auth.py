"""Bearer secrets: SCIM tokens for Entra and the admin key, stored only as SHA-256 hashes.

A secret is 256 random bits behind a prefix that says what it is (``sst_`` for SCIM tokens,
``ssa_`` for admin keys), so one pasted in the wrong place, or found in a log, is recognisable.
Verification hashes the presented secret, looks the hash up, and compares in constant time; a
short in-process cache makes a request pay microseconds for it while a revocation made by
another process still takes effect within ``cache_seconds``. Unknown secrets are remembered
for the same time, so a flood of wrong tokens costs the database one lookup each per window.

A token minted by the renewal job for a sink carries a ``delivery`` state. Until the sink
confirms it, nobody is known to hold it, so it does not count as the newest token: a failed
delivery must leave the renewal due, and the expiry metric must keep counting down.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from inbound.database.tokens import TokenInfo, TokenRows

Clock = Callable[[], datetime]


class SecretKind(StrEnum):
    SCIM = "scim"
    ADMIN = "admin"


class Delivery(StrEnum):
    """How far a token minted for the sink got; tokens issued to a caller have none."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


PREFIX = {SecretKind.SCIM: "sst_", SecretKind.ADMIN: "ssa_"}
_NEGATIVE_LIMIT = 1000


def admin_actor(key_id: str) -> str:
    """How the audit trail names an administrator: by the admin key's id, never its secret."""
    return f"admin:{key_id}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(kind: SecretKind) -> str:
    return PREFIX[kind] + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    secret: str
    id: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Cached:
    token_id: str
    secret_hash: str
    kind: str
    expires_at: datetime | None
    checked_at: datetime


class TokenStore:
    def __init__(self, engine: Engine, *, clock: Clock, cache_seconds: float = 5.0) -> None:
        self._rows = TokenRows(engine)
        self._clock = clock
        self._cache_ttl = timedelta(seconds=cache_seconds)
        self._cache: dict[str, _Cached] = {}
        self._unknown: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        kind: SecretKind,
        ttl: timedelta | None,
        label: str | None = None,
        secret: str | None = None,
        delivery: Delivery | None = None,
        joined: Connection | None = None,
    ) -> IssuedToken:
        """A new secret (or the given one, for a configured admin key); only its hash is kept.
        ``joined``: the caller's transaction (an administrator's issue, audited with it)."""
        now = self._clock()
        secret = secret or new_secret(kind)
        digest = hash_secret(secret)
        token_id = uuid.uuid4().hex[:12]
        expires_at = now + ttl if ttl is not None else None
        self._rows.insert(
            token_id=token_id,
            kind=kind.value,
            secret_hash=digest,
            created_at=now,
            expires_at=expires_at,
            label=label,
            delivery=delivery.value if delivery else None,
            joined=joined,
        )
        with self._lock:
            self._unknown.pop(digest, None)
        return IssuedToken(secret, token_id, expires_at)

    def set_delivery(self, token_id: str, delivery: Delivery) -> None:
        self._rows.set_delivery(token_id, delivery.value)

    def ensure_admin_key(self, secret: str) -> bool:
        """Make the configured admin key the only live one; True when it was not stored yet.

        Setting ``SCIM_SYNC_ADMIN_KEY`` to a new value is how an operator rotates the key, so
        every other live admin key (an earlier configured one, or the one generated on first
        start) is revoked, and going back to an earlier key brings that one back. Two processes
        starting together may both insert it: the loser's unique violation means it is there.
        """
        if not secret.startswith(PREFIX[SecretKind.ADMIN]):
            raise ValueError("an admin key starts with " + PREFIX[SecretKind.ADMIN])
        digest = hash_secret(secret)
        now = self._clock()
        known = self._rows.restore(digest, SecretKind.ADMIN.value)
        created = False
        if not known:
            try:
                self.issue(SecretKind.ADMIN, None, "configured", secret=secret)
                created = True
            except IntegrityError:
                created = False
        self._rows.revoke_all_but(digest, SecretKind.ADMIN.value, now)
        with self._lock:
            self._cache.clear()
            self._unknown.pop(digest, None)
        return created

    def verify(self, secret: str | None, kind: SecretKind) -> str | None:
        """The token's id when ``secret`` is a live secret of ``kind``; otherwise None."""
        if not secret or not secret.startswith(PREFIX[kind]) or len(secret) > 200:
            return None
        digest = hash_secret(secret)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(digest)
            unknown_since = self._unknown.get(digest)
        if cached is None and unknown_since is not None and now - unknown_since <= self._cache_ttl:
            return None
        if cached is None or now - cached.checked_at > self._cache_ttl:
            cached = self._load(digest, now)
            if cached is None:
                return None
        if not hmac.compare_digest(cached.secret_hash, digest) or cached.kind != kind.value:
            return None
        if cached.expires_at is not None and now >= cached.expires_at:
            return None
        return cached.token_id

    def _load(self, digest: str, now: datetime) -> _Cached | None:
        row = self._rows.live_by_hash(digest)
        with self._lock:
            if row is None:
                self._cache.pop(digest, None)
                if len(self._unknown) >= _NEGATIVE_LIMIT:
                    self._unknown.clear()
                self._unknown[digest] = now
                return None
            if len(self._cache) > 1000:
                self._cache.clear()
            cached = _Cached(row.id, row.secret_hash, row.kind, row.expires_at, now)
            self._cache[digest] = cached
            return cached

    def revoke(self, token_id: str, joined: Connection | None = None) -> bool:
        """``joined``: the caller's transaction; the caller then calls :meth:`forget` once it
        committed, or a request verified meanwhile could cache the token as live again."""
        changed = self._rows.revoke(token_id, self._clock(), joined)
        self.forget(token_id)
        return changed

    def forget(self, token_id: str) -> None:
        """Drop the token from this process's cache: its next use reads the database."""
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if v.token_id != token_id}

    def list(self, kind: SecretKind | None = None, *, live_only: bool = False) -> list[TokenInfo]:
        return self._rows.list(
            kind.value if kind is not None else None,
            live_at=self._clock() if live_only else None,
        )

    def newest_expiry(self, kind: SecretKind = SecretKind.SCIM) -> datetime | None:
        """Expiry of the newest live token someone is known to hold.

        A token minted for the sink counts only once the sink confirmed it; one whose delivery
        failed or is in flight still verifies (the sink may have received it after all), but
        renewal stays due and the expiry shown keeps falling until a delivery succeeds.
        """
        return self._rows.newest_expiry(kind.value, self._clock(), Delivery.DELIVERED.value)

    def has_live(self, kind: SecretKind) -> bool:
        return bool(self.list(kind, live_only=True))
