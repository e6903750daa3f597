"""What the request log and metrics cost on Entra's hottest call, as a ratio to no observer.

Serves the same app twice on uvicorn (one worker, uvloop, httptools): once as built, with one
JSON log line and one metrics sample per request, and once with the observer unwrapped. wrk
drives ``GET /scim/v2/Users?filter=userName eq "…"`` (Entra's lookup) against each in turn,
interleaved over several rounds (the best of each side is kept), then the scrape itself is
timed. Figures are ratios to the baseline measured in the same run, so a busy shared machine
skews both sides alike.

    .venv/bin/python -m tests.bench.bench_request_observer [--seconds 5] [--users 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from inbound.auth import SecretKind
from inbound.web.app import create_app
from inbound.web.metrics import Metrics
from inbound.web.request_log import RequestObserver
from scheduler import logs
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.bench.staging import bulk_stage_users
from tests.support import entra_user

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.bench.bench_request_observer"


def quiet_json_logs() -> None:
    """The service's JSON logging at INFO, written to /dev/null: its cost without a terminal."""
    logs.configure("INFO")
    stream = logging.getLogger().handlers[0]
    assert isinstance(stream, logging.StreamHandler)
    stream.setStream(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process


def serve(database_url: str, observed: bool) -> None:
    """Child process: print the port once listening, then serve until killed."""
    quiet_json_logs()
    runtime = compose(Settings(database_url=database_url), migrate=False)
    runtime.services.metrics.state_cache_seconds = 0  # time every scrape at its full cost
    app = create_app(runtime.services)
    if not observed:
        assert isinstance(app.asgi_handler, RequestObserver)
        app.asgi_handler = app.asgi_handler.app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", loop="uvloop", http="httptools"
    )
    uvicorn.Server(config).run(sockets=[sock])


def wrk(url: str, token: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, out
    return float(match.group(1))


def start(database_url: str, observed: bool) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--serve", database_url, "--observed", str(int(observed))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    return child, f"http://127.0.0.1:{int(child.stdout.readline())}"


def scrape_seconds(base: str, times: int = 20) -> float:
    started = time.perf_counter()
    for _ in range(times):
        subprocess.run(["curl", "-s", "-o", "/dev/null", f"{base}/metrics"], check=True)
    return (time.perf_counter() - started) / times


def observer_micro_seconds(calls: int = 20000) -> tuple[float, float]:
    """Mean seconds per call of a bare ASGI app, and of the same app inside the observer
    (logging to /dev/null): the observer's own cost, free of HTTP and database noise."""

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_template"] = "/scim/v2/Users"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def noop_send(message: Message) -> None:
        return None

    async def noop_receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    quiet_json_logs()
    observed = RequestObserver(bare, metrics=Metrics(), clock=lambda: datetime.now(UTC))

    async def timed(app: ASGIApp) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            scope: Any = {"type": "http", "method": "GET", "headers": [], "client": ("h", 1)}
            await app(scope, noop_receive, noop_send)
        return (time.perf_counter() - started) / calls

    return asyncio.run(timed(bare)), asyncio.run(timed(observed))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve")
    parser.add_argument("--observed", type=int, default=1)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, bool(args.observed))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        runtime = compose(Settings(database_url=url))
        bulk_stage_users(runtime, [entra_user(f"U{n}") for n in range(args.users)])
        token = runtime.tokens.issue(SecretKind.SCIM, None).secret
        runtime.dispose()
        servers = {mode: start(url, mode == "observed") for mode in ("baseline", "observed")}
        rates: dict[str, list[float]] = {"baseline": [], "observed": []}
        query = "/scim/v2/Users?filter=userName%20eq%20%22U4242%22"
        try:
            for _ in range(args.rounds):  # interleaved, so a noisy neighbour hits both sides
                for mode, (_child, base) in servers.items():
                    rates[mode].append(wrk(base + query, token, args.seconds))
            scrape = scrape_seconds(servers["observed"][1])
        finally:
            for child, _base in servers.values():
                child.kill()
                child.wait()
    baseline, observed = max(rates["baseline"]), max(rates["observed"])
    print(
        f"GET by filter, {args.users} users, wrk -t1 -c32 -d{args.seconds}s, one worker, "
        f"best of {args.rounds} interleaved rounds"
    )
    print(f"  without observer (baseline): {baseline:8.0f} req/s  1.00")
    print(f"  with log line + metrics:     {observed:8.0f} req/s  {observed / baseline:.2f}")
    bare, wrapped = observer_micro_seconds()
    print(
        f"  observer alone, in process: {(wrapped - bare) * 1e6:.1f} µs per request "
        f"(bare ASGI call {bare * 1e6:.1f} µs)"
    )
    print(f"  /metrics scrape (curl, mean of 20, state read fresh): {scrape * 1000:.1f} ms")


if __name__ == "__main__":
    main()
