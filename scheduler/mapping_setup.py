"""Finding, compiling and checking the declarative mapping, once, for every door.

The mapping comes from ``SCIM_SYNC_MAPPING_FILE`` (a TOML file of ``[mapping…]`` tables) or
from a ``[mapping]`` table in the ``--config`` file — never both. It is compiled and checked
at start (settings are checked without connecting anywhere, so the LDAP attribute names are
held against the static schema then) and by ``scim-sync mapping check``, which reads the LDAP
server's own subschema when it can reach it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.identity_store.mapping import check_identity_store_mapping
from connectors.ldap.connection import ConnectionPool
from connectors.ldap.mapping import Layout
from connectors.ldap.mapping_check import check_ldap_mapping
from connectors.ldap.schema import STATIC_SCHEMA, DirectorySchema, read_schema
from connectors.ldap.settings import LdapSettings
from reconcile.mapping import CompiledMapping, MappingProblem, compile_partly


@dataclass(frozen=True)
class MappingSource:
    """Where the mapping was found and its ``mapping`` table, or why it could not be read."""

    file: str
    table: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[MappingProblem, ...] = ()


def read_mapping_file(path: str) -> MappingSource:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        return MappingSource(path, problems=(MappingProblem(path, "", "", f"cannot read: {exc}"),))
    except tomllib.TOMLDecodeError as exc:
        return MappingSource(path, problems=(MappingProblem(path, "", "", f"TOML: {exc}"),))
    problems = tuple(
        MappingProblem(path, "", key, "unknown top-level key; a mapping file holds [mapping] only")
        for key in document
        if key != "mapping"
    )
    table = document.get("mapping", {})
    if not isinstance(table, Mapping):
        return MappingSource(path, problems=(MappingProblem(path, "", "mapping", "not a table"),))
    return MappingSource(path, table, problems)


def find_mapping(
    mapping_file: str, config_table: Any, config_path: str | None
) -> MappingSource | None:
    """The mapping to use: the mapping file, or the config file's ``[mapping]`` table; None
    when there is neither (the targets' defaults alone)."""
    if mapping_file and config_table is not None:
        both = (
            "the mapping is given twice: SCIM_SYNC_MAPPING_FILE and a [mapping] table in "
            "the config file; keep one"
        )
        return MappingSource(mapping_file, problems=(MappingProblem(mapping_file, "", "", both),))
    if mapping_file:
        return read_mapping_file(mapping_file)
    if config_table is None:
        return None
    file = config_path or "config file"
    if not isinstance(config_table, Mapping):
        return MappingSource(file, problems=(MappingProblem(file, "", "mapping", "not a table"),))
    return MappingSource(file, config_table)


@dataclass
class MappingCheck:
    """A whole check: the compiled mapping when usable, every problem, and notes on what
    could not be checked (and which LDAP schema was used)."""

    compiled: CompiledMapping | None
    problems: list[MappingProblem]
    notes: list[str]
    schema: str

    @property
    def ok(self) -> bool:
        return self.compiled is not None and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "file": self.compiled.file if self.compiled else None,
            "problems": [p.to_json() for p in self.problems],
            "notes": self.notes,
            "ldap_schema": self.schema,
        }


def check_mapping(
    source: MappingSource | None, ldap: LdapSettings, schema: DirectorySchema = STATIC_SCHEMA
) -> MappingCheck:
    """Compile ``source`` and check each target's part against that target."""
    if source is None:
        return MappingCheck(CompiledMapping.empty(), [], ["no mapping: the defaults apply"], "")
    compiled, found = compile_partly(source.table, source.file)
    problems = [*source.problems, *found]
    notes: list[str] = []
    ldap_part = compiled.target("ldap")
    if ldap_part is not None and not ldap.url:
        notes.append("no LDAP target is configured (SCIM_SYNC_LDAP_URL): [mapping.ldap] unused")
    elif ldap_part is not None:
        layout = Layout.from_settings(replace(ldap, mapping=ldap_part))
        refused, said = check_ldap_mapping(layout, source.file, schema)
        problems += refused
        notes += said
    store_part = compiled.target("identity_store")
    if store_part is not None:
        problems += check_identity_store_mapping(store_part, source.file)
    return MappingCheck(
        compiled if not problems else None, problems, notes, schema.origin if ldap.url else ""
    )


def server_schema(ldap: LdapSettings) -> tuple[DirectorySchema, str | None]:
    """The LDAP server's schema, or the static one and why the server's could not be read."""
    pool = ConnectionPool(ldap, 1)
    try:
        with pool.session() as session:
            return read_schema(session), None
    except Exception as exc:  # any failure to read it: the static schema, and why
        return STATIC_SCHEMA, f"{type(exc).__name__}: {exc}"
    finally:
        pool.close()
