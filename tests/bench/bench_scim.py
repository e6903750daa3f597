"""Throughput of the SCIM receiver against a ceiling and a peer, measured in the same run.

    .venv/bin/python -m tests.bench.bench_scim [--db sqlite postgres] [--duration 5] [--rounds 3]

Serves each app with uvicorn (uvloop, httptools, one worker, no access log) on a free loopback
port, loads 10k users, and drives it with wrk at 32 connections (Lua scripts for filters,
POST and PATCH): GET by a ``userName`` filter, POST /Users, PATCH a user. scim-sync runs as
shipped, writing its JSON request log line for every request (to a file, as under a container
runtime); the floors apply to that run. A run with the log line left out (log level WARNING)
is printed beside it, ``(no log)``, so the line's cost is published too. The ceiling is a
Litestar hello-world handler; the peer is scim2-server on its in-memory storage. A last table
shows that adding one member to a group of 100k costs what it costs for a group of 10.

All apps run at once and are measured in rounds: in each round, for each kind of request, the
reference (ceiling or peer), then scim-sync shipped, then scim-sync without the log line, a
few seconds each. A ratio is taken within a round and the median over the rounds is reported,
so the machine's speed, and its drift during the run, cancel out. On SQLite the two variants
serve copies of the loaded file, so neither process's checkpoints land on the other's writes.
Nothing here asserts a time, and the test suite only checks that the script runs (``--smoke``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from inbound.auth import SecretKind
from inbound.database.store import Actor
from inbound.database.tables import members, resources
from inbound.schema import USER_TYPE
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.support import entra_user, pg_schema

PG_DSN = os.environ.get("SCIM_SYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
FLOORS = {
    "sqlite": {
        "GET filter": ("ceiling", 0.4),
        "POST /Users": ("peer", 3.0),
        "PATCH user": ("peer", 4.0),
    },
    "postgres": {
        "GET filter": ("peer", 3.0),
        "POST /Users": ("peer", 1.5),
        "PATCH user": ("peer", 2.0),
    },
}

GET_LUA = """
local n = {users}
request = function()
  local path = "{base}/Users?filter=userName%20eq%20%22bench" .. math.random(0, n - 1) .. "%22"
  return wrk.format("GET", path, {{["Authorization"] = "Bearer {token}"}})
end
"""
POST_LUA = """
local counter = 0
local prefix = "{prefix}"
request = function()
  counter = counter + 1
  local name = prefix .. counter
  local body = '{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",' ..
    '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],' ..
    '"externalId":"x-' .. name .. '","userName":"' .. name .. '","active":true,' ..
    '"displayName":"User ' .. name .. '","emails":[{{"primary":true,"type":"work",' ..
    '"value":"' .. name .. '@example.com"}}],"name":{{"givenName":"G","familyName":"F"}},' ..
    '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":' ..
    '{{"employeeNumber":"' .. name .. '","department":"R"}}}}'
  return wrk.format("POST", "{base}/Users", {{["Authorization"] = "Bearer {token}",
    ["Content-Type"] = "application/scim+json"}}, body)
end
"""
PATCH_LUA = """
local ids = {{{ids}}}
local counter = 0
request = function()
  counter = counter + 1
  local id = ids[math.random(#ids)]
  local body = '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],' ..
    '"Operations":[{{"op":"Replace","path":"displayName","value":"Renamed ' .. counter .. '"}}]}}'
  return wrk.format("PATCH", "{base}/Users/" .. id, {{["Authorization"] = "Bearer {token}",
    ["Content-Type"] = "application/scim+json"}}, body)
end
"""


@dataclass
class Result:
    rps: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def uvicorn_app(factory: str, env: dict[str, str], log: Path | None = None) -> Iterator[str]:
    """The app served on a free port; its stderr (the service's log lines) goes to ``log``,
    a file, as under a container runtime, never to this terminal."""
    port = free_port()
    stderr = open(log, "a") if log is not None else None  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env},
        stderr=stderr,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{factory} did not start") from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if stderr is not None:
            stderr.close()


def wrk(url: str, script: str, duration: int, connections: int, workdir: Path) -> Result:
    path = workdir / f"s{uuid.uuid4().hex[:8]}.lua"
    path.write_text(script)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(path), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    if socket_errors:
        print(f"    wrk: {socket_errors.group(0)}", file=sys.stderr)
    return Result(rps, int(errors.group(1)) if errors else 0)


SCRIPTS = ("GET filter", "POST /Users", "PATCH user")


def scripts(base: str, token: str, ids: list[str], users: int) -> dict[str, Callable[[], str]]:
    """wrk's Lua script for each request kind, against one app's base path and token; made
    anew for each measurement, so that every POST round creates names of its own."""
    common = {"token": token, "base": base}
    id_list = ",".join(f'"{i}"' for i in ids)
    return {
        "GET filter": lambda: GET_LUA.format(users=users, **common),
        "POST /Users": lambda: POST_LUA.format(prefix=f"p{uuid.uuid4().hex[:8]}-", **common),
        "PATCH user": lambda: PATCH_LUA.format(ids=id_list, **common),
    }


@dataclass
class Served:
    """One app under test: where it answers and the request each kind sends it."""

    url: str
    requests: dict[str, Callable[[], str]]
    runs: dict[str, list[Result]]


def interleaved(
    apps: dict[str, Served], kinds: dict[str, list[str]], args: argparse.Namespace, tmp: Path
) -> None:
    """Each round measures, kind by kind, every app that kind compares, one after the other:
    a ratio is then taken between figures a few seconds apart, and drift of the machine's
    speed over the run (other work, a neighbour on the host) cancels out, instead of landing
    on whichever app happened to be measured in the slow minute."""
    for _ in range(args.rounds):
        for kind, names in kinds.items():
            for name in names:
                app = apps[name]
                app.runs.setdefault(kind, []).append(
                    wrk(app.url, app.requests[kind](), args.duration, args.connections, tmp)
                )


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    with pg_schema(PG_DSN, "bench") as url:
        yield url


def load_ours(url: str, users: int) -> tuple[str, list[str], Any]:
    runtime = compose(Settings(database_url=url), public_url="http://127.0.0.1")
    actor = Actor("bench")
    ids = [
        runtime.store.create(USER_TYPE, entra_user(f"bench{i}"), actor).scim_id
        for i in range(users)
    ]
    token = runtime.tokens.issue(SecretKind.SCIM, Settings().token_ttl).secret
    return token, ids, runtime


def load_peer(url: str, users: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=url) as client:
        for i in range(users):
            body = entra_user(f"bench{i}")
            body.pop("meta")
            response = client.post(
                "/v2/Users", json=body, headers={"Content-Type": "application/scim+json"}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


def large_group(
    runtime: Any, url: str, token: str, user_ids: list[str], big: int, rounds: int
) -> dict[str, float]:
    """Median latency of adding one member to a group of 10 and to a group of ``big``."""
    now = datetime.now(UTC)
    actor = Actor("bench")
    filler = [
        {
            "scim_id": str(uuid.uuid4()),
            "kind": "User",
            "name_key": f"filler{i}",
            "active": True,
            "data": {"userName": f"filler{i}"},
            "generation": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(big)
    ]
    with runtime.database_engine.begin() as conn:
        conn.execute(insert(resources), filler)
    out: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    pool = iter(user_ids)
    for label, size in (("group of 10", 10), (f"group of {big // 1000}k", big)):
        group = runtime.store.create(
            runtime.services.catalog.group,
            {"displayName": f"g-{label}-{uuid.uuid4().hex[:6]}"},
            actor,
        )
        with runtime.database_engine.begin() as conn:
            conn.execute(
                insert(members),
                [
                    {"group_id": group.scim_id, "member_id": r["scim_id"], "member_type": "User"}
                    for r in filler[:size]
                ],
            )
        timings = []
        with httpx.Client(base_url=url, headers=headers) as client:
            for _ in range(rounds):
                body = {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [
                        {"op": "Add", "path": "members", "value": [{"value": next(pool)}]}
                    ],
                }
                started = time.perf_counter()
                response = client.patch(f"/scim/v2/Groups/{group.scim_id}", json=body)
                timings.append(time.perf_counter() - started)
                assert response.status_code in (200, 204), response.text
        out[label] = statistics.median(timings) * 1e6
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per app and kind")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--big-group", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.duration, args.rounds = 50, 1, 1
        args.big_group, args.connections = 200, 4
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        for kind in args.db:
            rows += measure(kind, args, tmp)
        print()
        print(
            f"{'db':9}{'request':24}{'req/s':>9}{'non-2xx':>9}  {'ratio':>16}  {'floor':>7}  verdict"
        )
        for row in rows:
            print(row)
    return 0


def measure(kind: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    """Every app up at once (ceiling, peer, scim-sync as shipped and without its log line),
    measured in interleaved rounds; the table rows for database ``kind``."""
    hello = 'request = function() return wrk.format("GET") end'
    with database(kind, tmp) as db_url, contextlib.ExitStack() as stack:
        token, ids, loader = load_ours(db_url, args.users)
        loader.dispose()  # no third process on the database while it is measured
        quiet_url_of_db = db_url
        if kind == "sqlite":  # each variant its own file, as each ran alone before rounds
            quiet_url_of_db = _copy_sqlite(db_url, tmp / "quiet.db")
        env = {"BENCH_DATABASE_URL": db_url, "BENCH_PUBLIC_URL": "http://127.0.0.1"}
        log = tmp / f"service-{kind}.log"
        quiet = {**env, "BENCH_DATABASE_URL": quiet_url_of_db, "BENCH_LOG_LEVEL": "WARNING"}
        ceiling_url = stack.enter_context(uvicorn_app("tests.bench.apps:hello", {}))
        peer_url = stack.enter_context(uvicorn_app("tests.bench.apps:peer", {}))
        ours_url = stack.enter_context(uvicorn_app("tests.bench.apps:scim_sync", env, log))
        quiet_url = stack.enter_context(
            uvicorn_app("tests.bench.apps:scim_sync", quiet, tmp / "quiet.log")
        )
        peer_ids = load_peer(peer_url, args.users)
        apps = {
            "ceiling": Served(ceiling_url + "/hello", dict.fromkeys(SCRIPTS, lambda: hello), {}),
            "peer": Served(peer_url, scripts("/v2", "none", peer_ids, args.users), {}),
            "ours": Served(ours_url, scripts("/scim/v2", token, ids, args.users), {}),
            "quiet": Served(quiet_url, scripts("/scim/v2", token, ids, args.users), {}),
        }
        compared = {
            name: [FLOORS[kind][name][0], "ours", "quiet"] for name in SCRIPTS
        }  # the reference each kind is held against, then scim-sync shipped and unlogged
        interleaved(apps, compared, args, tmp)
        runtime = compose(Settings(database_url=db_url), public_url="http://127.0.0.1")
        stack.callback(runtime.dispose)
        group = large_group(runtime, ours_url, token, ids, args.big_group, min(200, len(ids) // 2))
    with log.open() as written:
        logged_lines = sum(1 for _ in written)
    print(f"{kind}: the shipped run wrote {logged_lines} log lines", flush=True)
    for name in ("ceiling", "peer"):
        for request, runs in apps[name].runs.items():
            label = "Litestar hello-world" if name == "ceiling" else f"scim2-server {request}"
            print(f"{kind:9}{name:9}{label:32}{_rates(runs)}", flush=True)
    rows = []
    for variant, name in (("", "ours"), (" (no log)", "quiet")):
        for request in SCRIPTS:
            basis, floor = FLOORS[kind][request]
            runs, references = apps[name].runs[request], apps[basis].runs[request]
            ratio = statistics.median(
                r.rps / ref.rps for r, ref in zip(runs, references, strict=True)
            )
            rps = statistics.median(r.rps for r in runs)
            errors = sum(r.errors for r in runs)
            verdict = "ok" if ratio >= floor and errors == 0 else "BELOW FLOOR"
            if variant:
                verdict = "(for comparison)"
            rows.append(
                f"{kind:9}{request + variant:24}{rps:9.0f}{errors:9d}  {ratio:8.2f} x {basis:7}"
                f"  {floor:5.1f} x  {verdict}"
            )
    small, large = list(group.values())
    labels = list(group)
    rows.append(
        f"{kind:9}add 1 member: {labels[0]} {small:.0f} µs, {labels[1]} {large:.0f} µs "
        f"(x {large / small:.2f})"
    )
    return rows


def _copy_sqlite(url: str, path: Path) -> str:
    """A copy of a SQLite database (checkpointed first, so the file holds everything)."""
    source = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, path)
    return f"sqlite:///{path}"


def _rates(runs: list[Result]) -> str:
    return " ".join(f"{r.rps:7.0f}" for r in runs) + " req/s"


if __name__ == "__main__":
    raise SystemExit(main())
