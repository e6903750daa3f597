"""What a declarative mapping costs per user, against the default path of the same run.

    .venv/bin/python -m tests.bench.bench_mapping [--users 20000] [--repeat 5] [--smoke]

Three figures, each the best of ``--repeat`` passes over the same users (the least disturbed
by other processes), in µs per user:

- ``desired``: building the desired state from a staged row (``desired_identity``), with the
  whole resource carried as ``source`` — against the same call with the read-only view left
  out, which is what the desired state cost before mappings (the default path's only other
  change is a ``None`` check);
- ``default``: the LDAP values and DN of a user with no mapping (today's layout);
- ``mapped``: the same with a mapping of six templates and a placement rule, as a ratio to
  ``default``. The full-reconcile floor is 100k users in 60 s: 600 µs per user for everything.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from unittest import mock

from connectors.ldap.mapping import Layout
from connectors.ldap.settings import LdapSettings
from inbound.database import desired
from inbound.database.desired import desired_identity
from reconcile.mapping import compile_mapping
from reconcile.model import NO_SOURCE, Source, read_only
from tests.support import entra_user

BASE = "dc=example,dc=org"
MAPPING = f"""
[mapping.value_maps.types]
default = "staff"
values = {{ Contractor = "contractor", Intern = "trainee" }}

[mapping.ldap.user.attributes]
description = "{{{{ user.title }}}} in {{{{ enterprise.department }}}}"
employeeType = "{{{{ user.userType | value_map('types') }}}}"
mail = "{{{{ user.userName | lower }}}}@example.org"
businessCategory = {{ each = "user.roles", value = "{{{{ item.value }}}}" }}
initials = "{{{{ user.name.givenName[:1] }}}}{{{{ user.name.familyName[:1] }}}}"
title = "{{{{ user.title | upper }}}}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,{BASE}"
"""


def staged_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        body = entra_user(f"E{i:06}", userType="Contractor" if i % 3 else "Employee")
        body["roles"] = [{"value": f"role-{i % 7}"}, {"value": "everyone"}]
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = (
            "Sales" if i % 2 else "Research"
        )
        rows.append(body)
    return rows


def best_us(calls: dict[str, Callable[[], object]], count: int, repeat: int) -> dict[str, float]:
    """Each call's best pass in µs per user; the calls take turns within each round, so a
    busy spell of the machine weighs on all of them alike."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: value / count * 1e6 for name, value in best.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: the script runs")
    args = parser.parse_args(argv)
    count, repeat = (200, 1) if args.smoke else (args.users, args.repeat)
    rows = staged_rows(count)
    settings = LdapSettings(url="ldap://127.0.0.1", base_dn=BASE)
    compiled = compile_mapping(tomllib.loads(MAPPING)["mapping"], "bench")
    default = Layout.from_settings(settings)
    mapped = Layout.from_settings(replace(settings, mapping=compiled.target("ldap")))
    users = [desired_identity(f"s{i}", 1, row, None) for i, row in enumerate(rows)]

    def no_source(_data: dict[str, Any]) -> Source:
        return NO_SOURCE

    def build(with_source: bool) -> Callable[[], object]:
        def run() -> object:
            # Left out, the view is the shared empty one: the desired state as it was before.
            with mock.patch.object(desired, "read_only", read_only if with_source else no_source):
                return [desired.desired_identity(f"s{i}", 1, r, None) for i, r in enumerate(rows)]

        return run

    def layout(chosen: Layout) -> Callable[[], object]:
        return lambda: [chosen.user_dn(u, chosen.user_values(u, None)) for u in users]

    figures = best_us(
        {
            "desired, source left out (before)": build(False),
            "desired, with source": build(True),
            "ldap values+dn, default": layout(default),
            "ldap values+dn, 6 templates + placement": layout(mapped),
        },
        count,
        repeat,
    )
    names = list(figures)
    baselines = {names[1]: names[0], names[3]: names[2]}
    print(f"{count} users, best of {repeat}")
    print(f"{'path':44} {'µs/user':>9} {'ratio':>7}")
    for name, value in figures.items():
        base = baselines.get(name)
        ratio = f"{value / figures[base]:.2f}" if base else "1.00"
        print(f"{name:44} {value:9.2f} {ratio:>7}")
    extra = figures[names[3]] - figures[names[2]]
    print(f"mapping cost per user: {extra:.1f} µs; for 100k users: {extra * 0.1:.2f} s of 60 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
