"""The ``tokens`` table: SCIM tokens and admin keys, each row keyed by its secret's SHA-256.

Only the statements live here. What a secret looks like, how it is hashed, compared and cached,
and what makes a token the newest one someone holds are :mod:`inbound.auth`'s business; this
module is handed hashes, times and states, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from inbound.database.service_tables import tokens
from inbound.database.tables import reading, writing

T = tokens.c


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: everything but its hash."""

    id: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    label: str | None
    delivery: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "label": self.label,
            "delivery": self.delivery,
        }


class LiveToken(NamedTuple):
    """What a token check needs of an unrevoked token."""

    id: str
    secret_hash: str
    kind: str
    expires_at: datetime | None


class TokenRows:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(
        self,
        *,
        token_id: str,
        kind: str,
        secret_hash: str,
        created_at: datetime,
        expires_at: datetime | None,
        label: str | None,
        delivery: str | None,
        joined: Connection | None = None,
    ) -> None:
        """``joined``: the caller's transaction (an administrator's issue, audited with it)."""
        with writing(self._engine, joined) as conn:
            conn.execute(
                insert(tokens).values(
                    id=token_id,
                    kind=kind,
                    secret_hash=secret_hash,
                    created_at=created_at,
                    expires_at=expires_at,
                    label=label,
                    delivery=delivery,
                )
            )

    def set_delivery(self, token_id: str, delivery: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(tokens).where(T.id == token_id).values(delivery=delivery))

    def restore(self, secret_hash: str, kind: str) -> bool:
        """Make the token with this hash live again, without expiry; False when there is none."""
        with self._engine.begin() as conn:
            restored = conn.execute(
                update(tokens)
                .where(T.secret_hash == secret_hash, T.kind == kind)
                .values(revoked_at=None, expires_at=None)
            ).rowcount
        return bool(restored)

    def revoke_all_but(self, secret_hash: str, kind: str, now: datetime) -> None:
        """Revoke every live token of ``kind`` except the one with this hash."""
        with self._engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(T.kind == kind, T.revoked_at.is_(None), T.secret_hash != secret_hash)
                .values(revoked_at=now)
            )

    def live_by_hash(self, secret_hash: str) -> LiveToken | None:
        """The unrevoked token with this hash, if any (expired or not)."""
        with reading(self._engine) as conn:
            row = conn.execute(
                select(T.id, T.secret_hash, T.kind, T.expires_at).where(
                    T.secret_hash == secret_hash, T.revoked_at.is_(None)
                )
            ).first()
        return LiveToken(*row) if row is not None else None

    def revoke(self, token_id: str, now: datetime, joined: Connection | None = None) -> bool:
        """False when the token does not exist or was revoked already."""
        with writing(self._engine, joined) as conn:
            changed = conn.execute(
                update(tokens)
                .where(T.id == token_id, T.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        return bool(changed)

    def list(self, kind: str | None = None, *, live_at: datetime | None = None) -> list[TokenInfo]:
        """Oldest first; ``live_at``: only tokens unrevoked and unexpired at that time."""
        query = select(
            T.id, T.kind, T.created_at, T.expires_at, T.revoked_at, T.label, T.delivery
        ).order_by(T.created_at)
        if kind is not None:
            query = query.where(T.kind == kind)
        if live_at is not None:
            query = query.where(
                T.revoked_at.is_(None), (T.expires_at.is_(None)) | (T.expires_at > live_at)
            )
        with reading(self._engine) as conn:
            return [TokenInfo(*row) for row in conn.execute(query)]

    def newest_expiry(self, kind: str, now: datetime, delivered: str) -> datetime | None:
        """The latest expiry among live tokens of ``kind`` issued to a caller (no delivery
        state) or whose delivery state is ``delivered``."""
        with reading(self._engine) as conn:
            newest: datetime | None = conn.execute(
                select(func.max(T.expires_at)).where(
                    T.kind == kind,
                    T.revoked_at.is_(None),
                    T.expires_at > now,
                    or_(T.delivery.is_(None), T.delivery == delivered),
                )
            ).scalar()
        return newest
