"""``scim-sync mapping check`` and ``mapping preview``: the declarative mapping seen before
a run applies it (docs/mapping.md)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from connectors.ldap.schema import STATIC_SCHEMA
from inbound.database.desired import StagedDesiredState
from reconcile.model import DesiredGroup, DesiredIdentity, ResourceKind
from scheduler import db
from scheduler.cli_common import emit
from scheduler.mapping_preview import preview, target_names
from scheduler.mapping_setup import MappingCheck, check_mapping, server_schema
from scheduler.settings import Settings

_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


@click.group()
def mapping() -> None:
    """Check the declarative mapping, or preview what it makes of one resource."""


def _checked(settings: Settings, offline: bool) -> MappingCheck:
    """The whole check, against the LDAP server's schema unless ``offline`` or unreachable."""
    schema, unreachable = STATIC_SCHEMA, None
    if settings.ldap.url and not offline:
        schema, unreachable = server_schema(settings.ldap)
    check = check_mapping(settings.mapping_source, settings.ldap, schema)
    if unreachable:
        check.notes.insert(0, f"the LDAP server's schema could not be read ({unreachable})")
    return check


def _report(check: MappingCheck, as_json: bool) -> None:
    lines = [str(p) for p in check.problems] + [f"note: {n}" for n in check.notes]
    if check.ok:
        where = check.compiled.file if check.compiled and check.compiled.file else "defaults"
        schema = f", LDAP schema: {check.schema}" if check.schema else ""
        lines.insert(0, f"mapping ok ({where}{schema})")
    emit(check.to_json(), as_json, "\n".join(lines))


@mapping.command("check")
@_json
@click.option("--offline", is_flag=True, help="Check against the static LDAP schema only.")
@click.pass_context
def mapping_check(ctx: click.Context, as_json: bool, offline: bool) -> None:
    """Every problem of the mapping, with its file, table and key; exit code 1 if any."""
    check = _checked(ctx.obj, offline)
    _report(check, as_json)
    if not check.ok:
        sys.exit(1)


@mapping.command("preview")
@click.argument("name")
@click.option("--target", "only", default=None, help="One target: identity_store or ldap.")
@_json
@click.pass_context
def mapping_preview(ctx: click.Context, name: str, only: str | None, as_json: bool) -> None:
    """What each target would hold for the staged user NAME (userName) or, failing that, the
    group NAME (displayName); exit code 1 when there is none or a template fails for it."""
    settings: Settings = ctx.obj
    check = check_mapping(settings.mapping_source, settings.ldap)
    if check.compiled is None:
        _report(check, as_json)
        sys.exit(1)
    settings = settings.with_mapping(check.compiled)
    names = target_names(settings)
    if only is not None and only not in names:
        _fail(f"no target named '{only}' is configured (configured: {', '.join(names)})", as_json)
    engine = db.make_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        staged = StagedDesiredState(engine)
        desired = staged.find(ResourceKind.USER, name) or staged.find(ResourceKind.GROUP, name)
        if not isinstance(desired, DesiredIdentity | DesiredGroup):
            _fail(f"no staged user or group is named '{name}'", as_json)
        shown = preview(settings, staged, desired, [only] if only else names)
    finally:
        engine.dispose()
    kind = "user" if isinstance(desired, DesiredIdentity) else "group"
    document = {"kind": kind, "scim_id": desired.scim_id, "name": name, "targets": shown}
    emit(document, as_json)
    if any("error" in t for t in shown.values()):
        sys.exit(1)


def _fail(message: str, as_json: bool) -> NoReturn:
    emit({"error": message}, as_json, message)
    sys.exit(1)
