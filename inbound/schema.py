"""The schemas served at /Schemas, as data that also drives validation, PATCH and filters.

One definition answers every question about an attribute — its canonical spelling, type,
case sensitivity, mutability and when it is returned — so /Schemas can never disagree with
what the receiver actually accepts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MS_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
"""Entra sends this extra URI on group creation; accepted and ignored (docs/entra-dialect.md,
Groups)."""

IGNORED_SCHEMAS = frozenset({MS_GROUP_SCHEMA.lower()})


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    description: str = ""
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    multi_line: bool = False
    """Tab, CR and LF are accepted in its values (postal addresses); elsewhere refused."""
    open_ended: bool = False
    """Sub-attributes its schema does not list are kept as sent instead of refused: Entra's
    app role expressions add their own (``displayName``, ``id``) to ``roles``."""

    def sub(self, name: str) -> Attribute | None:
        lowered = name.lower()
        for attr in self.sub_attributes:
            if attr.name.lower() == lowered:
                return attr
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description or self.name,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.sub_attributes:
            out["subAttributes"] = [a.to_json() for a in self.sub_attributes]
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        return out


@dataclass(frozen=True, slots=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_name: dict[str, Attribute] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name.lower(): a for a in self.attributes})

    def attribute(self, name: str) -> Attribute | None:
        return self._by_name.get(name.lower())

    def to_json(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_json() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": f"{location}/Schemas/{self.id}"},
        }


def _multi(
    name: str,
    types: tuple[str, ...],
    *,
    value_type: str = "string",
    extra: tuple[Attribute, ...] = (),
    open_ended: bool = False,
) -> Attribute:
    """The usual multi-valued shape (value, display, type, primary) of RFC 7643 §2.4."""
    return Attribute(
        name,
        "complex",
        multi_valued=True,
        open_ended=open_ended,
        sub_attributes=(
            Attribute("value", value_type),
            Attribute("display"),
            Attribute("type", canonical_values=types),
            Attribute("primary", "boolean"),
            *extra,
        ),
    )


_ADDRESS = Attribute(
    "addresses",
    "complex",
    multi_valued=True,
    sub_attributes=(
        Attribute("formatted", multi_line=True),
        Attribute("streetAddress", multi_line=True),
        Attribute("locality"),
        Attribute("region"),
        Attribute("postalCode"),
        Attribute("country"),
        Attribute("type", canonical_values=("work", "home", "other")),
        Attribute("primary", "boolean"),
    ),
)

USER = Schema(
    USER_SCHEMA,
    "User",
    "User Account",
    (
        Attribute("userName", required=True, uniqueness="server", returned="always"),
        Attribute(
            "name",
            "complex",
            sub_attributes=(
                Attribute("formatted"),
                Attribute("familyName"),
                Attribute("givenName"),
                Attribute("middleName"),
                Attribute("honorificPrefix"),
                Attribute("honorificSuffix"),
            ),
        ),
        Attribute("displayName"),
        Attribute("nickName"),
        Attribute("profileUrl", "reference", reference_types=("external",)),
        Attribute("title"),
        Attribute("userType"),
        Attribute("preferredLanguage"),
        Attribute("locale"),
        Attribute("timezone"),
        Attribute("active", "boolean"),
        Attribute("password", mutability="writeOnly", returned="never"),
        _multi("emails", ("work", "home", "other")),
        _multi("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi("photos", ("photo", "thumbnail"), value_type="reference"),
        _ADDRESS,
        Attribute(
            "groups",
            "complex",
            multi_valued=True,
            mutability="readOnly",
            sub_attributes=(
                Attribute("value", mutability="readOnly"),
                Attribute("$ref", "reference", mutability="readOnly", reference_types=("Group",)),
                Attribute("display", mutability="readOnly"),
                Attribute("type", mutability="readOnly", canonical_values=("direct", "indirect")),
            ),
        ),
        _multi("entitlements", ()),
        _multi("roles", (), open_ended=True),
        _multi("x509Certificates", (), value_type="binary"),
    ),
)

ENTERPRISE_USER = Schema(
    ENTERPRISE_SCHEMA,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("employeeNumber"),
        Attribute("costCenter"),
        Attribute("organization"),
        Attribute("division"),
        Attribute("department"),
        Attribute(
            "manager",
            "complex",
            sub_attributes=(
                Attribute("value"),
                Attribute("$ref", "reference", reference_types=("User",)),
                Attribute("displayName", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP = Schema(
    GROUP_SCHEMA,
    "Group",
    "Group",
    (
        Attribute("displayName", required=True, uniqueness="server", returned="always"),
        Attribute(
            "members",
            "complex",
            multi_valued=True,
            returned="default",
            sub_attributes=(
                Attribute("value", mutability="immutable"),
                Attribute(
                    "$ref", "reference", mutability="immutable", reference_types=("User", "Group")
                ),
                Attribute("display", mutability="readOnly", returned="request"),
                Attribute("type", mutability="immutable", canonical_values=("User", "Group")),
            ),
        ),
    ),
)

COMMON = (
    Attribute("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server"),
    Attribute("externalId", case_exact=True),
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A SCIM resource type: its core schema and the extensions it may carry."""

    name: str
    endpoint: str
    core: Schema
    extensions: tuple[Schema, ...] = ()

    def schema_for(self, urn: str) -> Schema | None:
        lowered = urn.lower()
        if self.core.id.lower() == lowered:
            return self.core
        for ext in self.extensions:
            if ext.id.lower() == lowered:
                return ext
        return None

    @property
    def schema_ids(self) -> tuple[str, ...]:
        return (self.core.id, *(e.id for e in self.extensions))

    @property
    def is_user(self) -> bool:
        return self.name == "User"

    @property
    def is_group(self) -> bool:
        return self.name == "Group"

    def with_extensions(self, extra: Iterable[Schema]) -> ResourceType:
        """This type with more extension schemas, e.g. custom ones from configuration."""
        return ResourceType(self.name, self.endpoint, self.core, (*self.extensions, *extra))

    def to_json(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": f"/{self.endpoint}",
            "description": self.core.description,
            "schema": self.core.id,
            "schemaExtensions": [
                {"schema": e.id, "required": False}
                for e in self.extensions
                if e.id not in SERVER_STATE_SCHEMAS
            ],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{location}/ResourceTypes/{self.name}",
            },
        }


SYNC_SCHEMA = "urn:scim-sync:schemas:extension:sync:1.0:Sync"

SYNC = Schema(
    SYNC_SCHEMA,
    "Sync",
    "Where scim-sync's targets stand with this resource (read-only, filled by scim-sync)",
    (
        Attribute(
            "targets",
            "complex",
            multi_valued=True,
            mutability="readOnly",
            returned="request",
            description="One entry per downstream target",
            sub_attributes=(
                Attribute("target", case_exact=True, mutability="readOnly"),
                Attribute(
                    "status",
                    case_exact=True,
                    mutability="readOnly",
                    canonical_values=("pending", "applied", "retrying", "dead", "skipped", "held"),
                ),
                Attribute("observedGeneration", "integer", mutability="readOnly"),
                Attribute("desiredGeneration", "integer", mutability="readOnly"),
                Attribute("attempts", "integer", mutability="readOnly"),
                Attribute("nextAttemptAt", "dateTime", mutability="readOnly"),
                Attribute("lastError", mutability="readOnly"),
            ),
        ),
    ),
)
"""The per-target sync state, shown on every User and Group so an administrator can see from
the SCIM side whether a change has reached the Identity Manager store and LDAP."""

SERVER_STATE_SCHEMAS = frozenset({SYNC_SCHEMA})
"""Served at /Schemas and returned on request, but not offered to clients as an extension they
may write (so conformance tools do not try to PATCH state scim-sync alone maintains)."""

USER_TYPE = ResourceType("User", "Users", USER, (ENTERPRISE_USER, SYNC))
GROUP_TYPE = ResourceType("Group", "Groups", GROUP, (SYNC,))
RESOURCE_TYPES = (USER_TYPE, GROUP_TYPE)


def all_schemas(types: Iterable[ResourceType] = RESOURCE_TYPES) -> list[Schema]:
    seen: dict[str, Schema] = {}
    for rt in types:
        for schema in (rt.core, *rt.extensions):
            seen.setdefault(schema.id, schema)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Catalog:
    """The resource types this receiver serves, with any custom extensions configured.

    Built once at start (``scheduler`` reads the configuration) and passed to the web layer, so
    /Schemas, /ResourceTypes, validation, PATCH and filters all use the same definitions.
    """

    user: ResourceType = USER_TYPE
    group: ResourceType = GROUP_TYPE

    @property
    def types(self) -> tuple[ResourceType, ...]:
        return (self.user, self.group)

    def by_endpoint(self, endpoint: str) -> ResourceType:
        return self.user if endpoint == "Users" else self.group

    def schemas(self) -> list[Schema]:
        return all_schemas(self.types)


DEFAULT_CATALOG = Catalog()
