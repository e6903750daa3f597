"""``scim-sync token`` and ``scim-sync scim``: SCIM tokens and the SCIM server switch."""

from __future__ import annotations

import click

from inbound.auth import SecretKind
from scheduler import renewal
from scheduler.cli_common import actions, emit, runtime_for
from scheduler.settings import parse_duration


@click.group()
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
        issued = actions(rt).issue_token("cli")
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
        actions(rt).record(
            "token.renew",
            outcome.action == "renewed",
            detail={"token_id": outcome.token_id, "action": outcome.action, "sink": sink},
        )
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
        if not actions(rt).revoke_token(token_id):
            raise click.ClickException(f"no live token with id '{token_id}'")
    click.echo(f"revoked {token_id}")


@click.group("scim")
def scim() -> None:
    """The SCIM server switch."""


@scim.command("enable")
@click.pass_context
def scim_enable(ctx: click.Context) -> None:
    """Accept SCIM requests from Entra."""
    with runtime_for(ctx) as rt:
        actions(rt).set_scim_enabled(True)
    click.echo("SCIM server enabled")


@scim.command("disable")
@click.pass_context
def scim_disable(ctx: click.Context) -> None:
    """Refuse SCIM requests (503) until enabled again."""
    with runtime_for(ctx) as rt:
        actions(rt).set_scim_enabled(False)
    click.echo("SCIM server disabled")
