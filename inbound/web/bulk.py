"""/Bulk (RFC 7644 §3.7): many operations in one request, each applied on its own.

Operations run in order, each as its own transaction, exactly as the single-resource endpoint
would run it. ``bulkId:`` references to resources created earlier in the same request are
resolved before an operation runs; an operation that refers to a later one waits for it, and
references that can never resolve (unknown or circular) fail with 409 ``invalidValue``.
``failOnErrors`` stops processing after that many errors (RFC 7644 §3.7.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inbound.database.store import Actor
from inbound.errors import ScimError, invalid_syntax, invalid_value
from inbound.schema import ResourceType
from inbound.web.scim_ops import Reply, ScimOperations

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
MAX_OPERATIONS = 1000
MAX_PAYLOAD_BYTES = 1024 * 1024
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(slots=True)
class _Op:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any


def _parse(body: Any) -> tuple[list[_Op], int | None]:
    if not isinstance(body, dict):
        raise invalid_syntax("a bulk body must be a JSON BulkRequest object")
    fields = {k.lower(): v for k, v in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST.lower() not in [
        str(s).lower() for s in schemas
    ]:
        raise invalid_syntax(f"'schemas' must be [\"{BULK_REQUEST}\"]")
    fail_on = fields.get("failonerrors")
    if fail_on is not None and (
        isinstance(fail_on, bool) or not isinstance(fail_on, int) or fail_on < 1
    ):
        raise invalid_value("'failOnErrors' must be a positive integer")
    raw_ops = fields.get("operations")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise invalid_syntax("'Operations' must be a non-empty list of bulk operations")
    if len(raw_ops) > MAX_OPERATIONS:
        raise ScimError(
            413,
            f"{len(raw_ops)} operations in one bulk request; the maximum is {MAX_OPERATIONS}",
        )
    ops: list[_Op] = []
    seen_ids: set[str] = set()
    for index, raw in enumerate(raw_ops, start=1):
        if not isinstance(raw, dict):
            raise invalid_syntax(f"bulk operation {index} must be an object")
        op = {k.lower(): v for k, v in raw.items()}
        method = op.get("method")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise invalid_syntax(
                f"bulk operation {index}: 'method' must be POST, PUT, PATCH or DELETE"
            )
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise invalid_syntax(
                f"bulk operation {index}: 'path' must be like /Users or /Users/{{id}}"
            )
        bulk_id = op.get("bulkid")
        if method.upper() == "POST":
            if not isinstance(bulk_id, str) or not bulk_id:
                raise invalid_syntax(f"bulk operation {index}: a POST needs a 'bulkId'")
            if bulk_id in seen_ids:
                raise invalid_syntax(f"bulk operation {index}: bulkId '{bulk_id}' is used twice")
            seen_ids.add(bulk_id)
        elif bulk_id is not None and not isinstance(bulk_id, str):
            raise invalid_syntax(f"bulk operation {index}: 'bulkId' must be a string")
        version = op.get("version")
        ops.append(
            _Op(
                index,
                method.upper(),
                path,
                bulk_id,
                version if isinstance(version, str) else None,
                op.get("data"),
            )
        )
    return ops, fail_on


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value[7:]} if value.startswith("bulkId:") else set()
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_references(v) for v in value.values())) if value else set()
    return set()


def _path_references(path: str) -> set[str]:
    """``/Users/bulkId:u1`` refers to the resource that operation ``u1`` creates."""
    return {part[7:] for part in path.split("/") if part.startswith("bulkId:")}


def _substitute_path(path: str, ids: dict[str, str]) -> str:
    return "/".join(
        ids[part[7:]] if part.startswith("bulkId:") else part for part in path.split("/")
    )


def _needs(op: _Op) -> set[str]:
    return _references(op.data) | _path_references(op.path)


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("bulkId:"):
        return ids[value[7:]]
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, ids) for k, v in value.items()}
    return value


class BulkProcessor:
    def __init__(self, ops: ScimOperations) -> None:
        self.ops = ops

    def run(self, body: Any, actor: Actor) -> dict[str, Any]:
        parsed, fail_on = _parse(body)
        ids: dict[str, str] = {}
        results: dict[int, dict[str, Any]] = {}
        errors = 0
        pending = list(parsed)
        needs = {op.index: _needs(op) for op in parsed}
        while pending and (fail_on is None or errors < fail_on):
            op = next((o for o in pending if needs[o.index] <= ids.keys()), None)
            if op is None:
                break
            pending.remove(op)
            result = self._one(op, ids, actor)
            results[op.index] = result
            if int(result["status"]) >= 400:
                errors += 1
        if fail_on is None or errors < fail_on:
            failed_ids = {
                op.bulk_id
                for op in parsed
                if op.bulk_id and op.index in results and op.bulk_id not in ids
            }
            for op in pending:
                missing = sorted(needs[op.index] - ids.keys())
                why = (
                    "its operation failed"
                    if set(missing) & failed_ids
                    else "no operation of this request creates it, or the references are circular"
                )
                results[op.index] = _error_result(
                    op,
                    ScimError(
                        409, f"cannot resolve bulkId {', '.join(missing)}: {why}", "invalidValue"
                    ),
                )
        return {
            "schemas": [BULK_RESPONSE],
            "Operations": [results[i] for i in sorted(results)],
        }

    def _one(self, op: _Op, ids: dict[str, str], actor: Actor) -> dict[str, Any]:
        try:
            path = _substitute_path(op.path, ids)
            data = _substitute(op.data, ids)
            rt, scim_id = self._target(op.method, path)
            reply = self._apply(op, rt, scim_id, data, actor)
        except ScimError as exc:
            return _error_result(op, exc)
        out: dict[str, Any] = {"method": op.method, "status": str(reply.status)}
        if op.bulk_id:
            out["bulkId"] = op.bulk_id
        if reply.body is not None and "id" in reply.body:
            out["location"] = self.ops.location(rt, reply.body["id"])
            if op.method == "POST" and op.bulk_id:
                ids[op.bulk_id] = reply.body["id"]
        elif scim_id is not None:
            out["location"] = self.ops.location(rt, scim_id)
        if "ETag" in reply.headers:
            out["version"] = reply.headers["ETag"]
        return out

    def _target(self, method: str, path: str) -> tuple[ResourceType, str | None]:
        parts = path.strip("/").split("/")
        if parts[0] not in ("Users", "Groups") or len(parts) > 2:
            raise invalid_value(f"'{path}' is not /Users, /Groups or /Users/{{id}}, /Groups/{{id}}")
        rt = self.ops.catalog.by_endpoint(parts[0])
        scim_id = parts[1] if len(parts) == 2 else None
        if method == "POST" and scim_id is not None:
            raise invalid_value(f"POST goes to /{parts[0]}, not to '{path}'")
        if method != "POST" and scim_id is None:
            raise invalid_value(f"{method} needs a resource path such as /{parts[0]}/{{id}}")
        return rt, scim_id

    def _apply(
        self, op: _Op, rt: ResourceType, scim_id: str | None, data: Any, actor: Actor
    ) -> Reply:
        if op.method == "POST":
            return self.ops.create(rt, data, actor)
        assert scim_id is not None
        if op.method == "PUT":
            return self.ops.replace(rt, scim_id, data, actor, op.version)
        if op.method == "PATCH":
            return self.ops.patch(rt, scim_id, data, actor, op.version, {})
        return self.ops.delete(rt, scim_id, actor, op.version)


def _error_result(op: _Op, exc: ScimError) -> dict[str, Any]:
    out: dict[str, Any] = {"method": op.method, "status": str(exc.status), "response": exc.body()}
    if op.bulk_id:
        out["bulkId"] = op.bulk_id
    return out
