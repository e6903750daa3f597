"""``scim-sync identities``, ``db`` and ``config``."""

from __future__ import annotations

import json

import click

from scheduler import config_docs, db
from scheduler.cli_common import emit, runtime_for
from scheduler.settings import Settings


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
    emit(record, as_json, "\n".join(f"{k}: {v}" for k, v in (record or {}).items()))


@identities.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--limit", default=1000, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.pass_context
def identities_list(ctx: click.Context, as_json: bool, limit: int, offset: int) -> None:
    """Identities of the Identity Manager store, by user ID."""
    with runtime_for(ctx) as rt:
        rows = rt.identities.list(limit, offset)
    human = (
        "\n".join(
            f"{r['user_id']}\t{r['email'] or ''}\t{'active' if r['active'] else 'inactive'}\t"
            + ", ".join(r["groups"])
            for r in rows
        )
        or "no identities"
    )
    emit(rows, as_json, human)


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
