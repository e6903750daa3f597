"""``scim-sync reconcile``, ``status``, ``dead-letters`` and ``holds``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from inbound.operator import status_report
from reconcile.changes import Change
from reconcile.full import DriftReport, Progress
from reconcile.runner import RunReport
from scheduler import cli_entra, renewal
from scheduler.cli_common import actions, emit, runtime_for
from scheduler.composition import Runtime


def _describe_change(change: Change) -> str:
    return f"  {change.describe()}"


def _plan_text(reports: list[DriftReport]) -> str:
    lines = []
    for report in reports:
        summary = f"{report.target}: {len(report.changes)} change(s)"
        if report.compared:
            summary += f" ({report.compared} compared"
            summary += (
                f", {report.drifted} drifted, {report.missing} missing, {report.orphans} orphans"
                f", {report.clashes} clashes)"
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


@click.command()
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


APPROVE_ALL = "scim-sync holds approve --all"


def _held_approval(rt: Runtime, name: str, summary: dict[str, Any]) -> str | None:
    """The command that lets a target's held changes through, when some are held."""
    if not summary["held"]:
        return None
    hold = rt.ledger.open_hold(name)
    return f"scim-sync holds approve {hold.id}" if hold and not hold.approved else APPROVE_ALL


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:g}s"


def _target_text(name: str, summary: dict[str, Any]) -> list[str]:
    line = (
        f"{name}: applied {summary['applied']}, pending {summary['pending']}, "
        f"retrying {summary['retrying']}, dead {summary['dead']}, held {summary['held']}"
    )
    if summary["pending"]:
        line += f", oldest pending {_age(summary['oldest_pending_seconds'])}"
    if summary["retrying"]:
        line += f", oldest retrying {_age(summary['oldest_retrying_seconds'])}"
    lines = [line + f", last applied {summary['last_applied_at'] or 'never'}"]
    if summary["held"]:
        kinds = summary["held_changes"]
        lines.append(
            f"  held by the mass-change brake: {kinds['delete']} delete(s), "
            f"{kinds['disable']} disable(s); check with 'scim-sync reconcile --dry-run', "
            f"approve with '{summary['approve_with']}'"
        )
    return lines


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per target: applied, pending, retrying, dead, held, oldest pending; token expiry; SCIM
    switch. Held changes name the command that approves them."""
    with runtime_for(ctx) as rt:
        report = status_report(rt.services)
        for name, summary in report["targets"].items():
            summary["approve_with"] = _held_approval(rt, name, summary)
    lines = [
        f"SCIM server: {'enabled' if report['scim_enabled'] else 'disabled'}"
        f"  ({report['endpoint_url']})",
        f"SCIM token expires: {report['token_expires_at'] or 'no valid token'}",
        renewal.describe_status(report["token_renewal"]),
        f"reconcile every {report['reconcile_interval_seconds']:g}s",
    ]
    for name, summary in report["targets"].items():
        lines.extend(_target_text(name, summary))
    lines.append(cli_entra.describe(report.get("entra")))
    emit(report, as_json, "\n".join(lines))


@click.group("dead-letters")
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
        count = actions(rt).retry_dead(None if retry_all else scim_id)
    click.echo(f"{count} dead letter(s) queued for retry")


@dead_letters.command("skip")
@click.argument("scim_id")
@click.pass_context
def dead_skip(ctx: click.Context, scim_id: str) -> None:
    """Accept that a target will not hold this change."""
    with runtime_for(ctx) as rt:
        count = actions(rt).skip_dead(scim_id)
    click.echo(f"{count} dead letter(s) skipped")


@click.group()
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
        count = actions(rt).approve_hold(hold_id)
        if count:
            rt.reconciler.run_once()
    if not count:
        raise click.ClickException("no open hold to approve")
    click.echo(f"{count} hold(s) approved and applied")
