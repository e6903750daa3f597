"""What the request log and metrics cost on Entra's hottest call, as a ratio to no observer.

Serves the same app twice on uvicorn (one worker, uvloop, httptools): once as built, with one
JSON log line and one metrics sample per request, and once with the observer unwrapped. wrk
drives ``GET /scim/v2/Users?filter=userName eq "…"`` (Entra's lookup) against each in turn,
interleaved over several rounds (the best of each side is kept), then the scrape itself is
timed. Figures are ratios to the baseline measured in the same run, so a busy shared machine
skews both sides alike.

    .venv/bin/python -m tests.bench.bench_request_observer [--seconds 5] [--users 10000] [--rounds 3]
    .venv/bin/python -m tests.bench.bench_request_observer --log-line-only

The last table is the log line alone, in process: a bare ASGI app inside the observer, its CPU
time per request with no log line subtracted, for each way of writing the line, as a ratio to
the standard library's defaults (how the line was first written).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, cast

import uvicorn
from litestar.types import (
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

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
    logs.configure("INFO", logs.LogFormat.JSON, open(os.devnull, "w"))  # noqa: SIM115


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


LogSetup = Callable[[TextIO], None]


def _stdlib_stream(stream: TextIO) -> None:
    """The log line as it was first built: the standard library's defaults (caller, thread
    and process looked up per record) and a StreamHandler writing and flushing each line on
    the caller's thread."""
    logs.configure("INFO", stream=stream)
    logging._srcfile = logging.__file__  # the default again
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = True
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().handlers[:] = [handler]


def _shipped_but_synchronous(stream: TextIO) -> None:
    """As shipped, except that each line is written and flushed by the caller."""
    logs.configure("INFO", stream=stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().handlers[:] = [handler]


def _shipped(stream: TextIO) -> None:
    logs.configure("INFO", stream=stream)


def _logging_off(stream: TextIO) -> None:
    logs.configure("WARNING", stream=stream)


LOG_SETUPS: dict[str, LogSetup] = {
    "no log line (level WARNING)": _logging_off,
    "standard library defaults, StreamHandler": _stdlib_stream,
    "shipped formatter, written by the caller": _shipped_but_synchronous,
    "shipped: background writer": _shipped,
}


def observer_micro_seconds(setup: LogSetup, calls: int = 20000, rounds: int = 5) -> float:
    """CPU seconds per call of a bare ASGI app inside the observer, with logging set up by
    ``setup`` and written to a pipe another process drains (as under a container runtime or
    systemd). CPU time of the whole process, so the writer thread's work counts too; the best
    of ``rounds``."""

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_template"] = "/scim/v2/Users"
        await send(HTTPResponseStartEvent(type="http.response.start", status=200, headers=[]))
        await send(HTTPResponseBodyEvent(type="http.response.body", body=b"", more_body=False))

    async def noop_send(message: Message) -> None:
        return None

    async def noop_receive() -> ReceiveMessage:
        return HTTPRequestEvent(type="http.request", body=b"", more_body=False)

    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert drain.stdin is not None
    setup(cast(TextIO, drain.stdin))  # text=True: typeshed says only IO[str]
    observed = RequestObserver(bare, metrics=Metrics(), clock=lambda: datetime.now(UTC))

    async def timed() -> float:
        started = time.process_time()
        for _ in range(calls):
            scope: Any = {"type": "http", "method": "GET", "headers": [], "client": ("h", 1)}
            await observed(scope, noop_receive, noop_send)
        for handler in logging.getLogger().handlers:
            handler.flush()
        return (time.process_time() - started) / calls

    try:
        return min(asyncio.run(timed()) for _ in range(rounds))
    finally:
        logs.configure("WARNING", stream=open(os.devnull, "w"))  # noqa: SIM115
        drain.stdin.close()
        drain.wait()


def print_log_line_costs() -> None:
    """The request log line's own cost per request, each way of writing it, as a ratio to the
    way it was first built."""
    costs = {label: observer_micro_seconds(setup) for label, setup in LOG_SETUPS.items()}
    floor = costs.pop("no log line (level WARNING)")
    before = costs["standard library defaults, StreamHandler"] - floor
    print(f"  observer without a log line: {floor * 1e6:.1f} µs CPU per request")
    for label, cost in costs.items():
        line = cost - floor
        print(f"  log line, {label:42} {line * 1e6:5.1f} µs  {line / before:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve")
    parser.add_argument("--observed", type=int, default=1)
    parser.add_argument(
        "--log-line-only", action="store_true", help="only the in-process log line costs"
    )
    args = parser.parse_args()
    if args.log_line_only:
        print("request log line, in process, a bare ASGI app inside the observer:")
        print_log_line_costs()
        return
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
    print(f"  /metrics scrape (curl, mean of 20, state read fresh): {scrape * 1000:.1f} ms")
    print_log_line_costs()


if __name__ == "__main__":
    main()
