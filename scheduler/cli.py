"""The ``scim-sync`` command. Every reporting command takes ``--json`` and then prints exactly
one JSON document on stdout."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import uvicorn

from inbound.auth import SecretKind
from inbound.web.admin_routes import issue_scim_token, status_report
from inbound.web.app import create_app
from reconcile.drift import PlannedChange
from reconcile.full import DriftReport, Progress
from reconcile.runner import RunReport
from scheduler import config_docs, db, logs, renewal
from scheduler.composition import Runtime, compose
from scheduler.jobs import Jobs
from scheduler.settings import Settings, SettingsError, load_settings, parse_duration


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(human if human is not None else json.dumps(data, indent=2, default=str))


@click.group()
@click.option("--config", "config_path", envvar="SCIM_SYNC_CONFIG", help="TOML settings file.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """scim-sync: Entra ID SCIM provisioning into the Identity Manager store and LDAP."""
    try:
        ctx.obj = load_settings(config_path=config_path)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def runtime_for(ctx: click.Context, public_url: str = "http://127.0.0.1:8000") -> Iterator[Runtime]:
    settings: Settings = ctx.obj
    rt = compose(settings, public_url=public_url)
    try:
        yield rt
    finally:
        rt.dispose()


def _bootstrap_secrets(rt: Runtime) -> list[str]:
    """First start: make sure an admin key and a SCIM token exist; returns lines to print once."""
    return renewal.first_start_secrets(rt)


def _serve(ctx: click.Context, host: str, port: int, *, web: bool, worker: bool) -> None:
    settings: Settings = ctx.obj
    logs.configure(settings.log_level)
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


@main.group()
def token() -> None:
    """SCIM tokens for Entra."""


@token.command("issue")
@click.option("--ttl", default=None, help="Lifetime, e.g. 10h (default SCIM_SYNC_TOKEN_TTL).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def token_issue(ctx: click.Context, ttl: str | None, as_json: bool) -> None:
    """Issue a new SCIM token; existing tokens stay valid until they expire.

    The token is printed, not sent to the sink; as the newest token, it also sets when the
    next scheduled renewal falls due.
    """
    with runtime_for(ctx) as rt:
        if ttl:
            rt.services.token_ttl = parse_duration(ttl, "--ttl")
        issued = issue_scim_token(rt.services, "cli")
    emit(
        issued,
        as_json,
        f"token:        {issued['token']}\nid:           {issued['id']}\n"
        f"expires_at:   {issued['expires_at']}\nendpoint_url: {issued['endpoint_url']}",
    )


@token.command("renew")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def token_renew(ctx: click.Context, as_json: bool) -> None:
    """Mint a SCIM token and deliver it to SCIM_SYNC_TOKEN_SINK now, whether due or not.

    The token itself is not printed: it goes to the sink. Exit code 1 when delivery failed.
    """
    with runtime_for(ctx) as rt:
        if rt.token_sink is None:
            raise click.UsageError(
                "no sink configured: set SCIM_SYNC_TOKEN_SINK (graph, file:PATH or webhook:URL), "
                "or use 'scim-sync token issue'"
            )
        outcome = renewal.Renewal.from_runtime(rt).run_once(force=True)
        sink = rt.renewal.sink
    human = {
        "renewed": f"token {outcome.token_id} delivered to {sink}, expires {outcome.expires_at}",
        "failed": f"delivery to {sink} failed: {outcome.error}",
        "busy": "another process is renewing right now; try again in a moment",
    }.get(outcome.action, outcome.action)
    emit(outcome.to_json(), as_json, human)
    if outcome.action != "renewed":
        ctx.exit(1)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """SCIM tokens (never their secrets)."""
    with runtime_for(ctx) as rt:
        rows = [t.to_json() for t in rt.tokens.list(SecretKind.SCIM)]
    human = (
        "\n".join(
            f"{r['id']}  expires {r['expires_at']}"
            + (f"  revoked {r['revoked_at']}" if r["revoked_at"] else "")
            + (f"  sink delivery {r['delivery']}" if r["delivery"] else "")
            for r in rows
        )
        or "no tokens"
    )
    emit(rows, as_json, human)


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke one token now."""
    with runtime_for(ctx) as rt:
        if not rt.tokens.revoke(token_id):
            raise click.ClickException(f"no live token with id '{token_id}'")
    click.echo(f"revoked {token_id}")


def _describe_change(change: PlannedChange) -> str:
    head = f"  {change.action} {change.kind.value} {change.name}"
    if change.members:
        return f"{head}: {', '.join(change.members)}"
    if change.diff:
        diffs = ", ".join(f"{k}: {o!r} -> {d!r}" for k, (o, d) in change.diff.items())
        return f"{head}: {diffs}"
    return head


def _plan_text(reports: list[DriftReport]) -> str:
    lines = []
    for report in reports:
        summary = f"{report.target}: {len(report.changes)} change(s)"
        if report.compared:
            summary += f" ({report.compared} compared"
            summary += (
                f", {report.drifted} drifted, {report.missing} missing, {report.orphans} orphans)"
            )
        lines.append(summary)
        lines.extend(_describe_change(c) for c in report.changes)
    return "\n".join(lines)


def _run_text(report: RunReport) -> str:
    return "\n".join(
        f"{t.target}: applied {t.applied} {t.actions or ''} retrying {t.retrying} "
        f"dead {t.dead} waiting {t.waiting} held {t.held}"
        + (f" (unavailable: {t.unavailable})" if t.unavailable else "")
        for t in report.targets
    )


def _run_json(report: RunReport) -> dict[str, Any]:
    return {
        t.target: {
            "actions": t.actions,
            "retrying": t.retrying,
            "dead": t.dead,
            "waiting": t.waiting,
            "held": t.held,
            "unavailable": t.unavailable,
        }
        for t in report.targets
    }


@contextmanager
def _progress(rt: Runtime, names: list[str], enabled: bool) -> Iterator[Progress | None]:
    """A progress bar on a terminal; nothing when the output is read by a program."""
    if not enabled:
        yield None
        return
    total = sum(rt.ledger.count_managed(n) for n in names) or 1
    done: dict[str, int] = {}
    with click.progressbar(length=total, label="comparing", file=sys.stderr) as bar:

        def update(name: str, compared: int) -> None:
            bar.update(compared - done.get(name, 0))
            done[name] = compared

        yield update


@main.command()
@click.option("--full", is_flag=True, help="Compare whole targets with staging and repair drift.")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option(
    "--allow-mass-delete", is_flag=True, help="With --full: remove orphans past the brake."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def reconcile(
    ctx: click.Context,
    full: bool,
    dry_run: bool,
    targets: tuple[str, ...],
    allow_mass_delete: bool,
    as_json: bool,
) -> None:
    """Run one reconciliation now."""
    with runtime_for(ctx) as rt:
        names = [t.name for t in rt.targets]
        unknown = set(targets) - set(names)
        if unknown:
            raise click.UsageError(
                f"unknown target(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}"
            )
        chosen = list(targets) or names
        rt.prepare_worker()
        if dry_run and not full:
            reports = rt.full.preview(chosen)
            emit(
                {"dry_run": True, "targets": [r.to_json() for r in reports]},
                as_json,
                _plan_text(reports),
            )
            return
        if full:
            with _progress(rt, chosen, sys.stderr.isatty() and not as_json) as progress:
                reports = rt.full.run(
                    dry_run=dry_run,
                    only=chosen,
                    progress=progress,
                    allow_mass_delete=allow_mass_delete,
                )
            data: dict[str, Any] = {"dry_run": dry_run, "full": [r.to_json() for r in reports]}
            text = _plan_text(reports)
            if not dry_run:
                run_report = rt.reconciler.run_once(chosen)
                data["targets"] = _run_json(run_report)
                text += "\n" + _run_text(run_report)
            emit(data, as_json, text)
            return
        report = rt.reconciler.run_once(chosen)
    emit({"targets": _run_json(report)}, as_json, _run_text(report))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per target: applied, pending, retrying, dead, oldest pending; token expiry; SCIM switch."""
    with runtime_for(ctx) as rt:
        report = status_report(rt.services)
    lines = [
        f"SCIM server: {'enabled' if report['scim_enabled'] else 'disabled'}"
        f"  ({report['endpoint_url']})",
        f"SCIM token expires: {report['token_expires_at'] or 'no valid token'}",
        renewal.describe_status(report["token_renewal"]),
        f"reconcile every {report['reconcile_interval_seconds']:g}s",
    ]
    for name, summary in report["targets"].items():
        lines.append(
            f"{name}: applied {summary['applied']}, pending {summary['pending']}, "
            f"retrying {summary['retrying']}, dead {summary['dead']}, "
            f"oldest pending {summary['oldest_pending_seconds']}s, "
            f"last applied {summary['last_applied_at']}"
        )
    emit(report, as_json, "\n".join(lines))


@main.group()
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


@main.group("dead-letters")
def dead_letters() -> None:
    """Changes a target refused for good."""


@dead_letters.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def dead_list(ctx: click.Context, as_json: bool) -> None:
    """Dead letters with their reason."""
    with runtime_for(ctx) as rt:
        rows = rt.ledger.dead_letters()
    human = (
        "\n".join(
            f"{r['target']}  {r['kind']} {r['name']} ({r['scim_id']}): {r['reason']}" for r in rows
        )
        or "no dead letters"
    )
    emit(rows, as_json, human)


@dead_letters.command("retry")
@click.argument("scim_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.pass_context
def dead_retry(ctx: click.Context, scim_id: str | None, retry_all: bool) -> None:
    """Put one dead letter (or all) back in line."""
    if not scim_id and not retry_all:
        raise click.UsageError("give a SCIM id or --all")
    with runtime_for(ctx) as rt:
        count = rt.ledger.retry_dead(None if retry_all else scim_id)
    click.echo(f"{count} dead letter(s) queued for retry")


@dead_letters.command("skip")
@click.argument("scim_id")
@click.pass_context
def dead_skip(ctx: click.Context, scim_id: str) -> None:
    """Accept that a target will not hold this change."""
    with runtime_for(ctx) as rt:
        count = rt.ledger.skip_dead(scim_id)
    click.echo(f"{count} dead letter(s) skipped")


@main.group()
def holds() -> None:
    """Deletes and disables held by the mass-change brake."""


@holds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--all", "show_all", is_flag=True, help="Closed holds too.")
@click.pass_context
def holds_list(ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """Open holds: how many deletes and disables wait for approval, per target."""
    with runtime_for(ctx) as rt:
        rows = rt.ledger.holds(open_only=not show_all)
    human = (
        "\n".join(
            f"{r['id']}  {r['target']}: {r['deletes']} delete(s), {r['disables']} disable(s) "
            f"of {r['managed']} held since {r['detected_at']}"
            + (f", approved by {r['approved_by']}" if r["approved_at"] else "")
            for r in rows
        )
        or "no held changes"
    )
    emit(rows, as_json, human)


@holds.command("approve")
@click.argument("hold_id", required=False, type=int)
@click.option("--all", "approve_all", is_flag=True, help="Approve every open hold.")
@click.pass_context
def holds_approve(ctx: click.Context, hold_id: int | None, approve_all: bool) -> None:
    """Let the next run apply the held deletes and disables."""
    if hold_id is None and not approve_all:
        raise click.UsageError("give a hold id or --all")
    with runtime_for(ctx) as rt:
        count = rt.ledger.approve_hold(hold_id, "cli", rt.services.clock())
        if count:
            rt.reconciler.run_once()
    if not count:
        raise click.ClickException("no open hold to approve")
    click.echo(f"{count} hold(s) approved and applied")


@main.group("scim")
def scim() -> None:
    """The SCIM server switch."""


@scim.command("enable")
@click.pass_context
def scim_enable(ctx: click.Context) -> None:
    """Accept SCIM requests from Entra."""
    with runtime_for(ctx) as rt:
        rt.runtime.set_scim_enabled(True)
    click.echo("SCIM server enabled")


@scim.command("disable")
@click.pass_context
def scim_disable(ctx: click.Context) -> None:
    """Refuse SCIM requests (503) until enabled again."""
    with runtime_for(ctx) as rt:
        rt.runtime.set_scim_enabled(False)
    click.echo("SCIM server disabled")


@main.group("db")
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


@main.group("config")
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
