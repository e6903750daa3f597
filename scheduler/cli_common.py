"""Helpers every ``scim-sync`` command module shares."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from inbound.web.admin_actions import AdminActions
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """``--json``: exactly one JSON document on stdout; otherwise text for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(human if human is not None else json.dumps(data, indent=2, default=str))


@contextmanager
def runtime_for(ctx: click.Context, public_url: str = "http://127.0.0.1:8000") -> Iterator[Runtime]:
    settings: Settings = ctx.obj
    rt = compose(settings, public_url=public_url)
    try:
        yield rt
    finally:
        rt.dispose()


def cli_actor() -> str:
    """The audit trail's name for whoever runs the command: ``cli:<os user>``.

    ``getpass.getuser`` reads the environment first, then the password database; a container
    running under a uid with no passwd entry has neither, and the action is still audited.
    """
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    return f"cli:{user or 'unknown'}"[:64]


def actions(rt: Runtime) -> AdminActions:
    """This command's changes, audited as :func:`cli_actor`."""
    return AdminActions(rt.services, cli_actor())
