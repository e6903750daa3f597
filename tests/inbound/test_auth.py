"""Bearer secrets on SQLite and PostgreSQL with an injected clock: every boundary of a token's
life, the cache's bound on revocations made elsewhere, and the HTTP guards."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from inbound.auth import Delivery, SecretKind, TokenStore
from inbound.database.service_tables import tokens
from inbound.web.app import create_app
from scheduler.composition import Runtime
from tests.support import FakeClock

HOUR = 3600.0
TTL_SECONDS = 10 * HOUR


def other_process(runtime: Runtime, clock: FakeClock) -> TokenStore:
    """A second store on the same database: its own cache, as in another web process."""
    return TokenStore(runtime.database_engine, clock=clock)


def test_a_token_is_256_random_bits_behind_a_prefix_and_stored_only_hashed(
    runtime: Runtime,
) -> None:
    issued = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    assert issued.secret.startswith("sst_")
    assert len(issued.secret.removeprefix("sst_")) >= 43  # 32 bytes, base64url
    with runtime.database_engine.connect() as conn:
        row = conn.execute(select(tokens).where(tokens.c.id == issued.id)).one()
    assert row.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in repr(tuple(row))


def test_valid_until_the_expiry_instant_and_refused_from_it(
    runtime: Runtime, clock: FakeClock
) -> None:
    issued = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) == issued.id
    clock.advance(TTL_SECONDS - 0.001)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) == issued.id
    clock.advance(0.001)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) is None
    clock.advance(1)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) is None


def test_several_tokens_are_valid_at_once_and_each_is_revocable(runtime: Runtime) -> None:
    issued = [runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl) for _ in range(3)]
    assert [runtime.tokens.verify(t.secret, SecretKind.SCIM) for t in issued] == [
        t.id for t in issued
    ]
    assert runtime.tokens.revoke(issued[1].id) is True
    assert runtime.tokens.revoke(issued[1].id) is False
    assert [runtime.tokens.verify(t.secret, SecretKind.SCIM) for t in issued] == [
        issued[0].id,
        None,
        issued[2].id,
    ]


def test_a_revocation_by_another_process_takes_effect_within_the_cache_window(
    runtime: Runtime, clock: FakeClock
) -> None:
    issued = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) == issued.id  # now cached
    assert other_process(runtime, clock).revoke(issued.id)
    clock.advance(4.9)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) == issued.id
    clock.advance(0.2)
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) is None


def test_unknown_secrets_are_remembered_only_for_the_cache_window(
    runtime: Runtime, clock: FakeClock
) -> None:
    secret = "sst_" + "A" * 43
    assert runtime.tokens.verify(secret, SecretKind.SCIM) is None
    other = other_process(runtime, clock)
    issued = other.issue(SecretKind.SCIM, runtime.settings.token_ttl, secret=secret)
    assert runtime.tokens.verify(secret, SecretKind.SCIM) is None
    clock.advance(5.1)
    assert runtime.tokens.verify(secret, SecretKind.SCIM) == issued.id
    # issued in this process: the negative entry goes at once
    second = "sst_" + "B" * 43
    assert runtime.tokens.verify(second, SecretKind.SCIM) is None
    again = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl, secret=second)
    assert runtime.tokens.verify(second, SecretKind.SCIM) == again.id


@pytest.mark.parametrize(
    "secret",
    [None, "", "sst_", "sst", "Bearer", "sst_" + "x" * 300, "sst_ünïcødé", "SST_" + "A" * 43],
)
def test_malformed_secrets_are_refused(runtime: Runtime, secret: str | None) -> None:
    runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    assert runtime.tokens.verify(secret, SecretKind.SCIM) is None


def test_a_secret_of_the_other_kind_is_refused(runtime: Runtime) -> None:
    scim = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    admin = runtime.tokens.issue(SecretKind.ADMIN, None)
    assert runtime.tokens.verify(scim.secret, SecretKind.ADMIN) is None
    assert runtime.tokens.verify(admin.secret, SecretKind.SCIM) is None
    assert runtime.tokens.verify(admin.secret, SecretKind.ADMIN) == admin.id


def test_newest_expiry_counts_only_tokens_someone_holds(runtime: Runtime, clock: FakeClock) -> None:
    store = runtime.tokens
    assert store.newest_expiry() is None
    handed = store.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    clock.advance(60)
    pending = store.issue(SecretKind.SCIM, runtime.settings.token_ttl, delivery=Delivery.PENDING)
    assert store.newest_expiry() == handed.expires_at
    store.set_delivery(pending.id, Delivery.FAILED)
    assert store.newest_expiry() == handed.expires_at
    assert store.verify(pending.secret, SecretKind.SCIM) == pending.id  # may have arrived
    store.set_delivery(pending.id, Delivery.DELIVERED)
    assert store.newest_expiry() == pending.expires_at
    store.revoke(pending.id)
    assert store.newest_expiry() == handed.expires_at
    clock.advance(TTL_SECONDS)
    assert store.newest_expiry() is None


def test_a_configured_admin_key_replaces_every_other_one(runtime: Runtime) -> None:
    store = runtime.tokens
    generated = store.issue(SecretKind.ADMIN, None, "generated on first start")
    first = "ssa_" + "1" * 40
    assert store.ensure_admin_key(first) is True
    assert store.ensure_admin_key(first) is False  # a restart changes nothing
    assert store.verify(first, SecretKind.ADMIN) is not None
    assert store.verify(generated.secret, SecretKind.ADMIN) is None
    second = "ssa_" + "2" * 40
    store.ensure_admin_key(second)
    assert store.verify(first, SecretKind.ADMIN) is None
    assert store.verify(second, SecretKind.ADMIN) is not None
    assert store.ensure_admin_key(first) is False  # back to the earlier key: it works again
    assert store.verify(first, SecretKind.ADMIN) is not None
    assert store.verify(second, SecretKind.ADMIN) is None
    with pytest.raises(ValueError, match="ssa_"):
        store.ensure_admin_key("not-an-admin-key-" + "x" * 40)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_provisioning_token_needs_the_admin_key(
    client: TestClient[Any], scim_token: str, admin_key: str
) -> None:
    refused = client.post("/provisioning/token", headers=bearer(scim_token))
    assert refused.status_code == 401
    assert refused.json()["status"] == "401" and "admin key" in refused.json()["detail"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    issued = client.post("/provisioning/token", headers=bearer(admin_key))
    assert issued.status_code == 201
    body = issued.json()
    assert set(body) == {"token", "id", "expires_at", "endpoint_url"}
    assert body["endpoint_url"] == "http://scim.test/scim/v2"
    assert client.get("/scim/v2/Users", headers=bearer(body["token"])).status_code == 200
    assert client.get("/scim/v2/Users", headers=bearer(scim_token)).status_code == 200


def test_scim_endpoints_refuse_admin_keys_expired_and_revoked_tokens(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock, admin_key: str
) -> None:
    admin_on_scim = client.get("/scim/v2/Users", headers=bearer(admin_key))
    assert admin_on_scim.status_code == 401
    assert admin_on_scim.headers["content-type"].startswith("application/scim+json")
    issued = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl)
    assert client.get("/scim/v2/Users", headers=bearer(issued.secret)).status_code == 200
    revoke = client.delete(f"/api/v1/tokens/{issued.id}", headers=bearer(admin_key))
    assert revoke.status_code == 204
    assert client.get("/scim/v2/Users", headers=bearer(issued.secret)).status_code == 401
    clock.advance(TTL_SECONDS)
    expired = client.get("/scim/v2/Users")  # the fixture's token, issued at the same instant
    assert expired.status_code == 401 and "scim-sync token issue" in expired.json()["detail"]


def test_a_disabled_scim_server_answers_503_with_a_scim_error(
    runtime: Runtime, scim_token: str, admin_key: str
) -> None:
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as http:
        switched = http.put(
            "/api/v1/settings", json={"scim_enabled": False}, headers=bearer(admin_key)
        )
        assert switched.status_code == 200 and switched.json()["scim_enabled"] is False
        answer = http.get("/scim/v2/Users", headers=bearer(scim_token))
        assert answer.status_code == 503
        assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert "disabled" in answer.json()["detail"]
        assert http.get("/scim/v2/Users").status_code == 401  # no token: still 401 first
