"""``scim-sync identities``, ``db`` and ``config``."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Iterator
from typing import Any

import click

from connectors.identity_store.reader import IdentityReader
from scheduler import config_docs, db
from scheduler.cli_common import emit, runtime_for
from scheduler.settings import Settings

Record = dict[str, Any]


@click.group()
def identities() -> None:
    """Records of the Identity Manager store."""


@identities.command("get")
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def identities_get(ctx: click.Context, user_id: str, as_json: bool) -> None:
    """One identity by user ID, with its groups and per-target sync state."""
    with runtime_for(ctx) as rt:
        record = rt.identity_record(user_id)
    if record is None:
        if as_json:
            click.echo(json.dumps({"error": f"no identity with user ID '{user_id}'"}))
        else:
            click.echo(f"no identity with user ID '{user_id}'", err=True)
        ctx.exit(1)
    emit(record, as_json, _describe(record or {}))


def _role_name(role: Record) -> str:
    """``Admin``, ``25 (Role1234)`` when the display name differs, ``[primary]`` marked."""
    name = str(role["value"])
    if role["display"] and role["display"] != name:
        name += f" ({role['display']})"
    return name + (" [primary]" if role["primary"] else "")


def _role_names(record: Record) -> str:
    return ", ".join(_role_name(r) for r in record.get("roles", []))


def _describe(record: Record) -> str:
    """One ``key: value`` line per field; roles as their values (with display names), extra
    attributes one line each under ``extra.``."""
    lines = []
    for key, value in record.items():
        if key == "roles":
            lines.append(f"roles: {_role_names(record)}")
        elif key == "extra":
            lines.extend(f"extra.{k}: {v}" for k, v in sorted(value.items()))
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


PAGE = 500
"""Identities read per query while listing: memory stays flat however large the store is."""


def _walk(reader: IdentityReader, after: str | None, limit: int | None) -> Iterator[Record]:
    """Identities in user ID order after ``after``, ``limit`` of them (all when None), read a
    page at a time by key."""
    remaining = limit
    while remaining is None or remaining > 0:
        size = PAGE if remaining is None else min(PAGE, remaining)
        rows = reader.list(size, after)
        yield from rows
        if len(rows) < size:
            return
        after = rows[-1]["user_id"]
        if remaining is not None:
            remaining -= len(rows)


def _human(record: Record) -> str:
    state = "active" if record["active"] else "inactive"
    line = f"{record['user_id']}\t{record['email'] or ''}\t{state}\t" + ", ".join(record["groups"])
    roles = _role_names(record)
    return f"{line}\troles: {roles}" if roles else line


def _stream_json_array(records: Iterable[Record]) -> None:
    """One JSON array, one record per line, written as it is read."""
    click.echo("[", nl=False)
    for n, record in enumerate(records):
        click.echo(("," if n else "") + "\n  " + json.dumps(record, default=str), nl=False)
    click.echo("\n]")


@identities.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many, and say where the next page starts (default: every identity).",
)
@click.option("--after", default=None, help="Start after this user ID (where a page ended).")
@click.pass_context
def identities_list(
    ctx: click.Context, as_json: bool, limit: int | None, after: str | None
) -> None:
    """Identities of the Identity Manager store, by user ID: all of them, or a page.

    Without --limit every identity is printed (--json: one array, streamed). With --limit,
    --json prints {"identities": [...], "next_after": <user ID or null>}, and the text output
    ends with the command for the next page when more exist.
    """
    with runtime_for(ctx) as rt:
        records = _walk(rt.identities, after, limit)
        if limit is None:
            if as_json:
                _stream_json_array(records)
                return
            printed = False
            for record in records:
                click.echo(_human(record))
                printed = True
            if not printed:
                click.echo("no identities")
            return
        page = list(records)
        last = page[-1]["user_id"] if page else after
        more = len(page) == limit and bool(rt.identities.list(1, last))
    next_after = last if more else None
    human = "\n".join(_human(r) for r in page) or "no identities"
    if next_after is not None:
        human += (
            f"\n… more identities: scim-sync identities list --after {shlex.quote(next_after)}"
            f" --limit {limit}"
        )
    emit({"identities": page, "next_after": next_after}, as_json, human)


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply migrations to the staging and Identity Manager databases."""
    settings: Settings = ctx.obj
    staging = db.make_engine(settings.database_url)
    idm = db.make_engine(settings.idm_url) if settings.idm_url != settings.database_url else staging
    try:
        db.upgrade_all(staging, idm)
    finally:
        staging.dispose()
        idm.dispose()
    click.echo("database is up to date")


@click.group("config")
def config_group() -> None:
    """The settings model: the effective values and the generated reference page."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """The settings this process would run with; secrets show as ***."""
    rows = config_docs.effective(ctx.obj)
    emit(
        {r["env"]: r["value"] for r in rows},
        as_json,
        "\n".join(f"{r['env']}={r['value']}" for r in rows),
    )


@config_group.command("docs")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the page to this file (e.g. docs/configuration.md) instead of stdout.",
)
def config_docs_command(output: str | None) -> None:
    """Print docs/configuration.md, generated from the settings model."""
    text = config_docs.render_markdown()
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
