"""Run ``scim-sync`` as a real process and wait on what it logs, never on the clock."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

Event = dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issue_token(workdir: Path, env: dict[str, str]) -> str:
    """A SCIM token from ``scim-sync token issue``, as an operator would get one."""
    out = subprocess.run(
        [*scim_sync_command(), "token", "issue", "--json"],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return str(json.loads(out)["token"])


def scim_sync_command() -> list[str]:
    exe = shutil.which("scim-sync", path=str(Path(sys.executable).parent)) or shutil.which(
        "scim-sync"
    )
    return [exe] if exe else [sys.executable, "-m", "scheduler.cli"]


STARTUP_TIMEOUT = 90
"""Seconds a child may take to listen: generous, since a busy CI machine starts Python slowly."""


class ServiceProcess:
    """A ``scim-sync`` child whose stdout lines and JSON log events arrive on queues.

    Every child is remembered until it is stopped, so a test that fails before its own cleanup
    still has its processes stopped by the suite (see :func:`stop_leftovers`)."""

    live: ClassVar[set[ServiceProcess]] = set()

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.stdout_lines: queue.Queue[str] = queue.Queue()
        self.events: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []
        self.proc = subprocess.Popen(
            [*scim_sync_command(), *args],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            self._pump(self.proc.stdout, lambda line: self.stdout_lines.put(line.rstrip("\n"))),
            self._pump(self.proc.stderr, self._on_log),
        ]
        ServiceProcess.live.add(self)

    @staticmethod
    def _pump(stream: IO[str], sink: Callable[[str], None]) -> threading.Thread:
        def run() -> None:
            with stream:
                for line in stream:
                    sink(line)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _drain(self) -> None:
        for thread in self._pumps:
            thread.join(timeout=10)

    def _on_log(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            event = {"event": line.rstrip("\n"), "raw": True}
        self.events.put(event)

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 20) -> Event:
        """The first logged event (already seen or still to come) that satisfies predicate."""
        for event in self.seen:
            if predicate(event):
                return event
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no matching event within {timeout}s; seen: {self.seen[-20:]}"
                ) from None
            self.seen.append(event)
            if predicate(event):
                return event

    def read_stdout_until(self, predicate: Callable[[str], bool], timeout: float = 20) -> list[str]:
        lines: list[str] = []
        while True:
            try:
                line = self.stdout_lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"stdout never matched; got {lines}") from None
            lines.append(line)
            if predicate(line):
                return lines

    def wait_listening(self) -> None:
        self.wait_for(lambda e: "Uvicorn running" in str(e.get("event")), STARTUP_TIMEOUT)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._drain()
        ServiceProcess.live.discard(self)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._drain()
        ServiceProcess.live.discard(self)


def stop_leftovers() -> None:
    """Stop every child a test started and did not stop (it failed before its cleanup)."""
    for process in list(ServiceProcess.live):
        process.stop()


def applied_on(target: str, scim_id: str, action: str) -> Callable[[dict[str, Any]], bool]:
    """Matches the service's log event saying ``target`` applied ``action`` to the resource."""

    def match(event: dict[str, Any]) -> bool:
        return (
            event.get("event") == "resource applied"
            and event.get("target") == target
            and event.get("scim_id") == scim_id
            and event.get("action") == action
        )

    return match
