"""The SCIM operations behind the HTTP handlers, shared with /Bulk.

Each operation takes already-decoded input and returns a :class:`Reply` (status, body,
headers), so a single request and one operation of a bulk request behave identically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inbound.database.store import Actor
from inbound.database.stored import Stored
from inbound.errors import ScimError, invalid_value, not_found
from inbound.filter import is_simple_eq, parse_attr_path, parse_filter
from inbound.input_rules import CONTROL_CHARACTER
from inbound.render import Projection, parse_projection, render
from inbound.schema import Catalog, ResourceType
from inbound.web.services import InboundServices

log = logging.getLogger(__name__)
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_RESULTS = 1000
SEARCH_KEYS = frozenset(
    {
        "schemas",
        "filter",
        "attributes",
        "excludedattributes",
        "startindex",
        "count",
        "sortby",
        "sortorder",
    }
)


@dataclass(slots=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Query:
    """A list request (RFC 7644 §3.4.2), from query parameters or a /.search body."""

    filter: str | None = None
    attributes: str | None = None
    excluded: str | None = None
    start_index: int = 1
    count: int = MAX_RESULTS
    sort_by: str | None = None
    descending: bool = False


MAX_START_INDEX = 2**31 - 1
MAX_SORT_BY_LENGTH = 512
MAX_RESOURCE_ID_LENGTH = 64
"""Our ids are 36 characters; a longer one, or one with a control character, names nothing
(and a NUL would be refused by PostgreSQL), so it is a 404 before any query."""


def _integer(raw: Any, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise invalid_value(f"'{name}' must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and len(raw) <= 64:  # a longer one is no number we could use
        try:
            return int(raw)
        except ValueError:
            pass
    shown = raw if not isinstance(raw, str) or len(raw) <= 20 else raw[:20] + "..."
    raise invalid_value(f"'{name}' must be an integer, got {shown!r}")


def check_resource_id(rt: ResourceType, scim_id: str) -> None:
    if len(scim_id) > MAX_RESOURCE_ID_LENGTH or CONTROL_CHARACTER.search(scim_id):
        raise not_found(f"no {rt.name} with that id")


def _names(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return ",".join(raw)
    if isinstance(raw, str):
        return raw
    raise invalid_value(f"'{name}' must be a list of attribute names")


def make_query(params: Mapping[str, Any]) -> Query:
    """Validate list parameters; names are matched case-insensitively, unknown ones ignored.

    A ``startIndex`` below 1 is read as 1 and a negative ``count`` as 0 (RFC 7644 §3.4.2.4);
    ``count`` above the advertised ``maxResults`` is capped.
    """
    if len(params) == 1:  # Entra's lookups: ?filter=… and nothing else
        only = params.get("filter")
        if isinstance(only, str):
            return Query(filter=only or None)
    p = {k.lower(): v for k, v in params.items()}
    text = p.get("filter")
    if text is not None and not isinstance(text, str):
        raise ScimError(400, "'filter' must be a string", "invalidFilter")
    start = _integer(p.get("startindex"), "startIndex")
    if start is not None and start > MAX_START_INDEX:
        raise invalid_value(f"'startIndex' is {start}; the maximum is {MAX_START_INDEX}")
    count = _integer(p.get("count"), "count")
    sort_by = p.get("sortby")
    if sort_by is not None and not isinstance(sort_by, str):
        raise invalid_value("'sortBy' must be an attribute name")
    if sort_by is not None and len(sort_by) > MAX_SORT_BY_LENGTH:
        raise invalid_value(
            f"'sortBy' is {len(sort_by)} characters long; the maximum is {MAX_SORT_BY_LENGTH}"
        )
    order = p.get("sortorder")
    if order is not None and (
        not isinstance(order, str) or order not in ("ascending", "descending")
    ):
        raise invalid_value("'sortOrder' must be 'ascending' or 'descending'")
    return Query(
        filter=text or None,
        attributes=_names(p.get("attributes"), "attributes"),
        excluded=_names(p.get("excludedattributes"), "excludedAttributes"),
        start_index=max(1, start if start is not None else 1),
        count=MAX_RESULTS if count is None else max(0, min(count, MAX_RESULTS)),
        sort_by=sort_by or None,
        descending=order == "descending",
    )


def may_be_slow(query: Query) -> bool:
    """Whether a search may cost more than a lookup: anything but Entra's ``attr eq "x"``.

    Those run in a worker thread, so the event loop keeps serving other requests while a
    general filter compiles to SQL (about 50 ms for the largest one accepted), runs, and up
    to 1,000 resources render."""
    return query.filter is None or query.sort_by is not None or not is_simple_eq(query.filter)


def search_body(body: Any) -> Query:
    """A POST /.search body: a SearchRequest object (RFC 7644 §3.4.3)."""
    if not isinstance(body, dict):
        raise ScimError(400, "a search body must be a JSON SearchRequest object", "invalidSyntax")
    unknown = [k for k in body if k.lower() not in SEARCH_KEYS]
    if unknown:
        raise ScimError(
            400,
            f"unknown SearchRequest member(s): {', '.join(unknown)}; allowed are filter, "
            "attributes, excludedAttributes, startIndex, count, sortBy, sortOrder",
            "invalidSyntax",
        )
    schemas = body.get("schemas")
    if schemas is not None and (
        not isinstance(schemas, list)
        or SEARCH_SCHEMA.lower() not in [str(s).lower() for s in schemas]
    ):
        raise ScimError(400, f"'schemas' must be [\"{SEARCH_SCHEMA}\"]", "invalidSyntax")
    for key in ("startIndex", "count"):
        value = next((v for k, v in body.items() if k.lower() == key.lower()), None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise invalid_value(f"'{key}' must be a JSON integer")
    return make_query(body)


class ScimOperations:
    def __init__(self, services: InboundServices, catalog: Catalog) -> None:
        self.services = services
        self.catalog = catalog

    @property
    def base(self) -> str:
        return self.services.endpoint_url

    def render(
        self, rt: ResourceType, stored: Stored, projection: Projection | None = None
    ) -> dict[str, Any]:
        return render(
            rt,
            scim_id=stored.scim_id,
            data=stored.data,
            created=stored.created_at,
            modified=stored.updated_at,
            generation=stored.generation,
            base_url=self.base,
            members=stored.members,
            groups=stored.groups,
            projection=projection,
            sync=stored.sync,
        )

    def location(self, rt: ResourceType, scim_id: str) -> str:
        return f"{self.base}/{rt.endpoint}/{scim_id}"

    def one(
        self,
        rt: ResourceType,
        stored: Stored,
        status: int = 200,
        projection: Projection | None = None,
    ) -> Reply:
        headers = {"ETag": stored.etag}
        if status == 201:
            headers["Location"] = self.location(rt, stored.scim_id)
        return Reply(status, self.render(rt, stored, projection), headers)

    def search(self, rt: ResourceType, query: Query) -> Reply:
        node = parse_filter(query.filter) if query.filter else None
        projection = parse_projection(rt, query.attributes, query.excluded)
        sort_by = None
        if query.sort_by:
            try:
                sort_by = parse_attr_path(query.sort_by)
            except ScimError as exc:
                raise invalid_value(f"sortBy: {exc.detail}") from None
        total, page = self.services.store.search(
            rt,
            node,
            start_index=query.start_index,
            count=query.count,
            with_members=projection.wants_members,
            with_groups=projection.wants_groups,
            with_sync=projection.wants_sync,
            sort_by=sort_by,
            descending=query.descending,
        )
        resources = [self.render(rt, s, projection) for s in page]
        return Reply(200, list_response(resources, total, query.start_index))

    def search_all(self, query: Query) -> Reply:
        """Root-level search (RFC 7644 §3.4.3): every resource type, Users first.

        A filter is applied per type; a type that lacks an attribute the filter names
        contributes nothing, and only a filter that fits no type at all is an error.
        Sorting applies within each type.
        """
        pages: list[dict[str, Any]] = []
        total = 0
        errors: list[ScimError] = []
        wanted_start, remaining = query.start_index, query.count
        for rt in self.catalog.types:
            try:
                counted = self.search(rt, replace(query, start_index=1, count=0))
            except ScimError as exc:
                if exc.status != 400:
                    raise
                errors.append(exc)
                continue
            assert counted.body is not None
            matches = int(counted.body["totalResults"])
            if remaining > 0 and wanted_start <= total + matches:
                local_start = max(1, wanted_start - total)
                reply = self.search(rt, replace(query, start_index=local_start, count=remaining))
                assert reply.body is not None
                pages.extend(reply.body["Resources"])
                remaining -= len(reply.body["Resources"])
            total += matches
        if len(errors) == len(self.catalog.types):
            raise errors[0]
        return Reply(200, list_response(pages, total, query.start_index))

    def get(
        self, rt: ResourceType, scim_id: str, params: Mapping[str, Any], if_none_match: str | None
    ) -> Reply:
        check_resource_id(rt, scim_id)
        projection = parse_projection(
            rt, params.get("attributes"), params.get("excludedAttributes")
        )
        stored = self.services.store.get(
            rt,
            scim_id,
            with_members=projection.wants_members,
            with_groups=projection.wants_groups,
            with_sync=projection.wants_sync,
        )
        if if_none_match is not None and _etag_matches(stored.etag, if_none_match):
            return Reply(304, None, {"ETag": stored.etag})
        return self.one(rt, stored, projection=projection)

    def create(self, rt: ResourceType, body: Any, actor: Actor) -> Reply:
        return self.one(rt, self.services.store.create(rt, body, actor), 201)

    def replace(
        self, rt: ResourceType, scim_id: str, body: Any, actor: Actor, if_match: str | None
    ) -> Reply:
        check_resource_id(rt, scim_id)
        return self.one(rt, self.services.store.replace(rt, scim_id, body, actor, if_match))

    def patch(
        self,
        rt: ResourceType,
        scim_id: str,
        body: Any,
        actor: Actor,
        if_match: str | None,
        params: Mapping[str, Any],
    ) -> Reply:
        """Users answer 200 with the resource. Groups answer 200 with the group too (clients
        and conformance tools read it), except above ``group_patch_body_max_members`` members,
        where they answer 204 (RFC 7644 §3.5.2 allows either) so that adding one member to a
        100k-member group never renders the other 99,999. Asking for ``attributes`` or
        ``excludedAttributes`` always gets the body, projected."""
        check_resource_id(rt, scim_id)
        wants_body = (
            rt.is_user
            or "attributes" in params
            or "excludedAttributes" in params
            or not self.services.store.has_more_members(
                scim_id, self.services.group_patch_body_max_members
            )
        )
        projection = parse_projection(
            rt, params.get("attributes"), params.get("excludedAttributes")
        )
        try:
            stored = self.services.store.patch(
                rt,
                scim_id,
                body,
                actor,
                if_match,
                with_members=wants_body and projection.wants_members,
                with_groups=projection.wants_groups,
            )
        except ScimError as exc:
            if exc.status == 400:  # a shape we do not know yet: keep it for the corpus
                log.warning(
                    "patch refused",
                    extra={
                        "resource_type": rt.name,
                        "scim_id": scim_id,
                        "scim_type": exc.scim_type,
                        "detail": exc.detail,
                        "body": redact(body),
                    },
                )
            raise
        if not wants_body:
            return Reply(204, None, {"ETag": stored.etag})
        return self.one(rt, stored, projection=projection)

    def delete(self, rt: ResourceType, scim_id: str, actor: Actor, if_match: str | None) -> Reply:
        check_resource_id(rt, scim_id)
        self.services.store.delete(rt, scim_id, actor, if_match)
        return Reply(204)


_SECRET_WORDS = ("password", "secret", "token")


def redact(value: Any) -> Any:
    """A request body fit for a log: values under secret-looking names, and the value of an
    operation whose path names one, are masked."""
    if isinstance(value, list):
        return [redact(v) for v in value]
    if not isinstance(value, dict):
        return value
    secret_path = any(w in str(value.get("path", "")).lower() for w in _SECRET_WORDS)
    return {
        k: "***"
        if any(w in k.lower() for w in _SECRET_WORDS) or (secret_path and k.lower() == "value")
        else redact(v)
        for k, v in value.items()
    }


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start,
        "Resources": resources,
    }


def _etag_matches(current: str, header: str) -> bool:
    """If-None-Match / If-Match lists, compared weakly (RFC 7232 §2.3.2); ``*`` matches any."""
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in wanted or current.removeprefix("W/") in wanted
