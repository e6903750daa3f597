"""Bulk staging for benchmarks: the store's own normalisation and index rows, many resources
per transaction, so a 100k-user benchmark does not spend its time on 100k SCIM requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from inbound.database.index import index_rows
from inbound.database.tables import attr_values, resources
from inbound.resource import normalise
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime


def bulk_stage_users(
    runtime: Runtime, bodies: Sequence[dict[str, Any]], chunk: int = 2000
) -> list[str]:
    now = datetime.now(UTC)
    ids: list[str] = []
    for start in range(0, len(bodies), chunk):
        rows, values = [], []
        for body in bodies[start : start + chunk]:
            data, _ = normalise(USER_TYPE, body)
            scim_id = str(uuid.uuid4())
            ids.append(scim_id)
            rows.append(
                {
                    "scim_id": scim_id,
                    "kind": "User",
                    "name_key": data["userName"].casefold(),
                    "external_id": data.get("externalId"),
                    "display_name": data.get("displayName"),
                    "active": data.get("active", True),
                    "data": data,
                    "generation": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            values += [
                {"scim_id": scim_id, "path": p, "elem": e, "text_value": t, "num_value": n}
                for p, e, t, n in index_rows(USER_TYPE, data)
            ]
        with runtime.database_engine.begin() as conn:
            conn.execute(insert(resources), rows)
            conn.execute(insert(attr_values), values)
    runtime.prepare_worker()
    return ids
