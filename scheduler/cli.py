"""The ``scim-sync`` command. Every reporting command takes ``--json`` and then prints exactly
one JSON document on stdout."""

from __future__ import annotations

import signal
import sys

import click
import uvicorn

from inbound.web.app import create_app
from scheduler import (
    cli_entra,
    cli_mapping,
    cli_reconcile,
    cli_records,
    cli_tokens,
    logs,
    renewal,
)
from scheduler.cli_common import runtime_for
from scheduler.composition import Runtime
from scheduler.jobs import Jobs
from scheduler.settings import Settings, SettingsError, load_settings


@click.group()
@click.option("--config", "config_path", envvar="SCIM_SYNC_CONFIG", help="TOML settings file.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """scim-sync: Entra ID SCIM provisioning into the Identity Manager store and LDAP."""
    try:
        # ``mapping check`` and ``preview`` report a mapping's problems themselves.
        checked = ctx.invoked_subcommand != "mapping"
        ctx.obj = load_settings(config_path=config_path, with_mapping=checked)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def _bootstrap_secrets(rt: Runtime) -> list[str]:
    """First start: make sure an admin key and a SCIM token exist; returns lines to print once."""
    return renewal.first_start_secrets(rt)


def _serve(ctx: click.Context, host: str, port: int, *, web: bool, worker: bool) -> None:
    settings: Settings = ctx.obj
    logs.configure(settings.log_level, logs.LogFormat(settings.log_format))
    with runtime_for(ctx, public_url=f"http://{host}:{port}") as rt:
        jobs = Jobs(rt, listen=not web) if worker else None
        if web:
            lines = _bootstrap_secrets(rt)
            click.echo(f"scim-sync is listening on http://{host}:{port}")
            click.echo(f"  SCIM endpoint URL (Entra 'Tenant URL'): {rt.services.endpoint_url}")
            for line in lines:
                click.echo(line)
            sys.stdout.flush()
        if jobs is not None:
            jobs.start()
        try:
            if web:
                config = uvicorn.Config(
                    create_app(rt.services),
                    host=host,
                    port=port,
                    access_log=False,
                    log_config=None,
                    lifespan="off",
                    timeout_graceful_shutdown=10,
                )
                uvicorn.Server(config).run()
            else:
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            if jobs is not None:
                jobs.shutdown()


_host = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
_port = click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")


@main.command()
@_host
@_port
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """The whole service: SCIM receiver, admin API and the reconcile scheduler."""
    _serve(ctx, host, port, web=True, worker=True)


@main.command()
@_host
@_port
@click.pass_context
def web(ctx: click.Context, host: str, port: int) -> None:
    """The SCIM receiver and admin API alone (scaled deployments)."""
    _serve(ctx, host, port, web=True, worker=False)


@main.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """The scheduler and reconciler alone (scaled deployments)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    _serve(ctx, "127.0.0.1", 0, web=False, worker=True)


for command in (
    cli_tokens.token,
    cli_tokens.scim,
    cli_reconcile.reconcile,
    cli_reconcile.status,
    cli_reconcile.dead_letters,
    cli_reconcile.holds,
    cli_records.identities,
    cli_records.db_group,
    cli_records.config_group,
    cli_entra.entra,
    cli_mapping.mapping,
):
    main.add_command(command)
