"""Reconciler benchmark: push → applied latency, and a full reconcile of many users.

    python -m tests.bench.bench_reconcile [--users 100000] [--database-url URL]
        [--mapping none|six|both] [--full-only]

Prints a table. Latency is measured over real HTTP against ``scim-sync serve``: from sending a
SCIM request to the moment the worker logs the change as applied on each target (both
timestamps from this machine's clock), at idle (one request at a time) and under a steady
25 requests per second. The full reconcile stages N users, applies them, then times
``scim-sync reconcile --full`` in a child process and reads its peak RSS. Each user has two app
roles and half of them are in Sales. ``--mapping both`` (the default) times the full reconcile
without a mapping (the baseline) and then, on a fresh database and directory, with a mapping
of six LDAP templates, a placement rule and two extra attributes in the store
(:data:`MAPPING`), and prints the ratio of the two.
Floors (issue 6): p99 ≤ 1 s; full reconcile of 100k users ≤ 60 s and ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.ldap.settings import LdapSettings
from reconcile.mapping import compile_mapping
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.bench.staging import bulk_stage_users
from tests.support import entra_user, patch_body
from tests.support.directory import fresh_base, settings_for
from tests.support.processes import ServiceProcess, free_port, issue_token, scim_sync_command
from tests.support.slapd import SlapdServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAPPING = """
[mapping.value_maps.types]
default = "staff"
values = { Contractor = "contractor", Intern = "trainee" }

[mapping.ldap.user.attributes]
description = "{{ user.title }} in {{ enterprise.department }}"
employeeType = "{{ user.userType | value_map('types') }}"
businessCategory = { each = "roles", value = "{{ item.value }}" }
initials = "{{ user.name.givenName[:1] }}{{ user.name.familyName[:1] }}"
title = "{{ user.title | upper }}"
carLicense = "{{ enterprise.employeeNumber }}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,BASE"

[mapping.identity_store.user.attributes]
cost_center = "{{ enterprise.department | lower }}-{{ enterprise.employeeNumber[-2:] }}"
role_values = { each = "roles", value = "{{ item.value }}" }
"""
"""Six LDAP templates and a placement rule, two extra attributes for the store."""


def bench_user(i: int) -> dict[str, Any]:
    body = entra_user(f"f{i:06d}", userType="Contractor" if i % 3 else "Employee")
    body["roles"] = [{"value": f"role-{i % 7}", "primary": True}, {"value": "everyone"}]
    body[ENTERPRISE]["department"] = "Sales" if i % 2 else "Research"
    return body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class AppliedLog:
    """Collects the worker's "resource applied" events: (target, scim_id) → [(generation, ts)]."""

    def __init__(self, service: ServiceProcess) -> None:
        self._service = service
        self._seen: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        while self._service.proc.poll() is None:
            try:
                event = self._service.events.get(timeout=0.5)
            except Exception:  # queue.Empty: keep listening while the service lives
                continue
            if event.get("event") != "resource applied":
                continue
            at = datetime.fromisoformat(event["ts"]).timestamp()
            with self._changed:
                key = (event["target"], event["scim_id"])
                self._seen.setdefault(key, []).append((int(event["generation"]), at))
                self._changed.notify_all()

    def visible(self, scim_id: str, generation: int, targets: set[str]) -> dict[str, float] | None:
        """When each target first held ``generation`` or a later one (bursts coalesce)."""
        out = {}
        for target in targets:
            times = [t for g, t in self._seen.get((target, scim_id), []) if g >= generation]
            if not times:
                return None
            out[target] = min(times)
        return out

    def wait_visible(
        self, scim_id: str, generation: int, targets: set[str], timeout: float
    ) -> dict[str, float] | None:
        with self._changed:
            self._changed.wait_for(lambda: self.visible(scim_id, generation, targets), timeout)
            return self.visible(scim_id, generation, targets)


def latency(env: dict[str, str], workdir: Path, rate: float, count: int) -> dict[str, Any]:
    """Send ``count`` PATCHes (``rate`` per second, or one at a time when 0) and time each
    until every target applied it."""
    port = free_port()
    service = ServiceProcess(["serve", "--port", str(port)], cwd=workdir, env=env)
    try:
        service.read_stdout_until(lambda line: "SCIM endpoint URL" in line)
        service.wait_listening()
        token = issue_token(workdir, env)
        log = AppliedLog(service)
        targets = set(env.get("BENCH_TARGETS", "identity_store").split(","))
        sent: list[tuple[str, int, float]] = []
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/scim/v2",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            users = [
                http.post("/Users", json=entra_user(f"lat{rate:g}-{i}")).json()["id"]
                for i in range(10)
            ]
            for user in users:
                log.wait_visible(user, 1, targets, 30)
            start = time.monotonic()
            for i in range(count):
                pause = start + i / rate - time.monotonic() if rate else 0
                if pause > 0:
                    time.sleep(pause)  # paces the load generator; the system is never waited on
                user = users[i % len(users)]
                at = time.time()
                body = patch_body({"op": "replace", "path": "title", "value": f"t{i}"})
                version = http.patch(f"/Users/{user}", json=body).json()["meta"]["version"]
                generation = int(version.split('"')[1])
                sent.append((user, generation, at))
                if not rate:
                    log.wait_visible(user, generation, targets, 30)
        waits = []
        for user, generation, at in sent:
            seen = log.wait_visible(user, generation, targets, 30)
            if seen:
                waits.append(max(seen.values()) - at)
        return {
            "requests": len(sent),
            "measured": len(waits),
            "p50_ms": percentile(waits, 0.5) * 1000,
            "p99_ms": percentile(waits, 0.99) * 1000,
            "max_ms": max(waits) * 1000,
        }
    finally:
        service.stop()


def ldap_env(settings: LdapSettings | None) -> dict[str, str]:
    if settings is None:
        return {}
    return {
        "SCIM_SYNC_LDAP_URL": settings.url,
        "SCIM_SYNC_LDAP_BIND_DN": settings.bind_dn,
        "SCIM_SYNC_LDAP_PASSWORD": settings.password,
        "SCIM_SYNC_LDAP_BASE_DN": settings.base_dn,
        "SCIM_SYNC_LDAP_CONNECTIONS": str(settings.connections),
        "SCIM_SYNC_LDAP_DIRECTORY": settings.directory,
        "SCIM_SYNC_LDAP_TLS_CA_FILE": settings.tls_ca_file,
    }


def full_reconcile(
    database_url: str, users: int, workdir: Path, ldap: LdapSettings | None, mapping: str = ""
) -> dict[str, float]:
    """Stage and apply ``users``, then time a full reconcile that finds nothing to change;
    ``mapping`` (TOML, ``BASE`` for the LDAP base DN) is used by both when given."""
    settings = Settings(database_url=database_url, ldap=ldap or LdapSettings())
    mapping_env: dict[str, str] = {}
    if mapping:
        text = mapping.replace("BASE", ldap.base_dn if ldap else "dc=example,dc=org")
        path = workdir / f"mapping-{time.monotonic_ns()}.toml"
        path.write_text(text)
        mapping_env = {"SCIM_SYNC_MAPPING_FILE": str(path)}
        settings = settings.with_mapping(compile_mapping(tomllib.loads(text)["mapping"], str(path)))
    runtime = compose(settings)
    t0 = time.perf_counter()
    bulk_stage_users(runtime, [bench_user(i) for i in range(users)])
    staged = time.perf_counter() - t0
    t0 = time.perf_counter()
    runtime.reconciler.run_once()
    applied = time.perf_counter() - t0
    runtime.dispose()
    env = {
        **os.environ,
        "SCIM_SYNC_DATABASE_URL": database_url,
        **ldap_env(ldap),
        **mapping_env,
    }
    t0 = time.perf_counter()
    # A fresh parent whose only child is the reconcile, so its peak RSS is the reconcile's own
    # (this process's other children, the latency runs' servers, would count otherwise).
    measure = (
        "import json, resource, subprocess, sys;"
        "out = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True).stdout;"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(json.dumps({'peak_kb': peak, 'report': json.loads(out)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", measure, *scim_sync_command(), "reconcile", "--full", "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - t0
    measured = json.loads(out.stdout)
    peak, report = measured["peak_kb"], measured["report"]
    compared = sum(r["compared"] for r in report["full"])
    return {
        "users": users,
        "stage_s": staged,
        "first_apply_s": applied,
        "full_reconcile_s": elapsed,
        "compared": compared,
        "drifted": sum(r["drifted"] for r in report["full"]),
        "peak_rss_mb": peak / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=250)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-ldap", action="store_true", help="the identity store alone")
    parser.add_argument(
        "--mapping",
        choices=("none", "six", "both"),
        default="both",
        help="the full reconcile without a mapping, with MAPPING, or both (ratio printed)",
    )
    parser.add_argument("--full-only", action="store_true", help="skip the latency runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = None if args.no_ldap else SlapdServer(workdir / "slapd")
        if server is not None:
            server.start()
        try:
            run(args, workdir, server)
        finally:
            if server is not None:
                server.stop()


def run(args: argparse.Namespace, workdir: Path, server: SlapdServer | None) -> None:
    if not args.full_only:
        latencies(args, workdir, server)
    modes = {"none": [""], "six": [MAPPING], "both": ["", MAPPING]}[args.mapping]
    results = []
    for n, mapping in enumerate(modes):
        full_url = args.database_url or f"sqlite:///{workdir / f'full-{n}.db'}"
        full_ldap = (
            settings_for(server.url, fresh_base(server.url), connections=8) if server else None
        )
        result = full_reconcile(full_url, args.users, workdir, full_ldap, mapping)
        results.append(result)
        where = "identity store and LDAP" if full_ldap else "identity store"
        what = "with the six-template mapping" if mapping else "without a mapping"
        print(f"\nfull reconcile of {result['users']} users ({where}), {what}")
        for key in (
            "stage_s",
            "first_apply_s",
            "full_reconcile_s",
            "peak_rss_mb",
            "compared",
            "drifted",
        ):
            print(f"  {key:20} {result[key]:10.1f}")
        print(
            f"  floors: full ≤ 60 s → {result['full_reconcile_s']:.1f} s; "
            f"RSS ≤ 300 MB → {result['peak_rss_mb']:.0f} MB"
        )
    if len(results) == 2:
        base, mapped = results
        print(
            "\nwith the mapping / without (same run): full reconcile "
            f"{mapped['full_reconcile_s'] / base['full_reconcile_s']:.2f}x, peak RSS "
            f"{mapped['peak_rss_mb'] / base['peak_rss_mb']:.2f}x, first apply "
            f"{mapped['first_apply_s'] / base['first_apply_s']:.2f}x"
        )


def latencies(args: argparse.Namespace, workdir: Path, server: SlapdServer | None) -> None:
    ldap = settings_for(server.url, fresh_base(server.url), connections=8) if server else None
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = {
        "SCIM_SYNC_DATABASE_URL": url,
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "BENCH_TARGETS": "identity_store,ldap" if ldap else "identity_store",
        **ldap_env(ldap),
    }
    idle = latency(env, workdir, 0, 40)
    busy = latency(env, workdir, 25, args.requests)
    print("push → applied latency (ms)      p50      p99      max   measured")
    for name, row in (("idle, one at a time", idle), ("25 req/s", busy)):
        print(
            f"  {name:28} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} {row['max_ms']:8.1f}   {row['measured']}/{row['requests']}"
        )
    print(f"  floor: p99 ≤ 1000 ms → {busy['p99_ms']:.0f} ms")


if __name__ == "__main__":
    main()
