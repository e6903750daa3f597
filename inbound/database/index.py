"""The attribute index: every stored value as a comparable row, so any filter compiles to SQL.

One row per simple value, keyed by its casefolded path (``emails.value``) and its position in a
multi-valued attribute, so value-path filters can require two conditions on the same element.
Values are casefolded here, in Python, unless the schema says ``caseExact``; queries casefold
the same way, so SQLite and PostgreSQL compare identical strings.

``externalId`` has no rows here: it is the ``external_id`` column, which every filter and sort
on it uses (it is case-exact, so the column's text is what a row would hold).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import Any

from inbound.schema import Attribute, ResourceType

MAX_TEXT = 1024


def comparable(attr: Attribute, value: Any) -> tuple[str | None, float | None]:
    """The (text, number) pair a value is indexed and compared as."""
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int | float):
        return repr(value), float(value)
    if not isinstance(value, str):
        return None, None
    if attr.type == "dateTime":
        return utc_text(value), None
    return (value if attr.case_exact else value.casefold())[:MAX_TEXT], None


def utc_text(value: str) -> str:
    """dateTimes as UTC text of one fixed width, so text order is time order."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def path_key(urn: str | None, attr: str, sub: str | None = None) -> str:
    head = f"{urn}:{attr}" if urn else attr
    return (f"{head}.{sub}" if sub else head).casefold()


def index_rows(
    rt: ResourceType, data: dict[str, Any], only: Collection[str] | None = None
) -> Iterator[tuple[str, int, str | None, float | None]]:
    """(path, element, text, number) for every simple value of a canonical resource; with
    ``only``, for those of its top-level keys alone (attribute names, extension URNs)."""
    for schema in (rt.core, *rt.extensions):
        urn = None if schema is rt.core else schema.id
        if urn is not None and only is not None and urn not in only:
            continue
        container = data if urn is None else data.get(urn) or {}
        for attr in schema.attributes:
            if urn is None and only is not None and attr.name not in only:
                continue
            value = container.get(attr.name)
            if value is None:
                continue
            items = value if attr.multi_valued else [value]
            for elem, item in enumerate(items):
                if attr.type == "complex" and isinstance(item, dict):
                    for sub in attr.sub_attributes:
                        if sub.name in item:
                            text, num = comparable(sub, item[sub.name])
                            yield path_key(urn, attr.name, sub.name), elem, text, num
                else:
                    text, num = comparable(attr, item)
                    yield path_key(urn, attr.name), elem, text, num
