"""``scim-sync entra``: Entra's side of provisioning — the job's health, a poll now, a restart."""

from __future__ import annotations

import getpass
from typing import Any

import click

from connectors.entra.health import RESTART_SCOPES
from inbound.web.admin_actions import AdminActions, EntraRestartError
from scheduler.cli_common import emit, runtime_for
from scheduler.settings import Settings


def _watched(settings: Settings) -> None:
    if settings.graph.missing():
        raise click.ClickException(
            "Entra is not watched: set " + ", ".join(settings.graph.missing())
        )


def describe(report: dict[str, Any] | None) -> str:
    """The Entra line of ``scim-sync status``."""
    if not report:
        return "entra: not watched (SCIM_SYNC_GRAPH_* unset or SCIM_SYNC_ENTRA_HEALTH_INTERVAL=0)"
    line = f"entra job {report['job_id'] or '?'}: {report['state'] or 'unknown'}"
    if report["quarantined"]:
        line += (
            f" (reason {report['quarantine_reason']}, since {report['quarantine_since']}, "
            f"next attempt {report['quarantine_next_attempt']})"
        )
    line += f"; last successful cycle {report['last_successful_at'] or 'never'}"
    for part in ("job", "logs"):
        if report[f"{part}_problem"]:
            line += f"; {part}: {report[f'{part}_problem']}"
    return line


@click.group()
def entra() -> None:
    """Entra's provisioning job: health, provisioning log, restart."""


@entra.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def entra_status(ctx: click.Context, as_json: bool) -> None:
    """The job state from the last poll."""
    with runtime_for(ctx) as rt:
        assert rt.services.console is not None
        report = rt.services.console.entra.report()
    emit(report, as_json, describe(report))


@entra.command("poll")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def entra_poll(ctx: click.Context, as_json: bool) -> None:
    """Read the job and the provisioning log now (exit 1 when a read failed)."""
    _watched(ctx.obj)
    with runtime_for(ctx) as rt:
        if rt.entra_watch is None:
            raise click.ClickException("Entra is not watched: SCIM_SYNC_ENTRA_HEALTH_INTERVAL=0")
        outcome = rt.entra_watch.poll(force=True)
    human = f"{outcome['entries_added']} new provisioning log entries" + "".join(
        f"; {part}: {problem}" for part, problem in outcome["problems"].items()
    )
    emit(outcome, as_json, human)
    if outcome["problems"]:
        ctx.exit(1)


@entra.command("restart")
@click.option(
    "--scope",
    type=click.Choice(sorted(RESTART_SCOPES)),
    default="quarantine",
    show_default=True,
    help="quarantine: lift the quarantine; full: also evaluate every object again and clear "
    "the job's errors (the admin center's Restart provisioning).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def entra_restart(ctx: click.Context, scope: str, yes: bool) -> None:
    """Restart Entra's provisioning job (audited)."""
    settings: Settings = ctx.obj
    _watched(settings)
    if not yes:
        click.confirm(
            f"Restart Entra's provisioning job of service principal "
            f"{settings.graph.service_principal_id} with scope {scope}?",
            abort=True,
        )
    with runtime_for(ctx) as rt:
        try:
            job_id = AdminActions(rt.services, f"cli:{getpass.getuser()}").restart_entra(scope)
        except EntraRestartError as exc:  # shown as it is; already audited
            raise click.ClickException(f"restart failed: {exc}") from exc
    click.echo(f"Entra provisioning job {job_id} restarted (scope {scope})")
