"""A PostgreSQL server of the test's own, to stop and start at will.

The shared server other tests use must never be stopped; a fault test that takes the database
away starts its own cluster (``initdb`` into a temporary directory, a free loopback port, its
socket in that directory) and removes it afterwards. The server binaries are found through
``SCIM_SYNC_TEST_PG_BIN``, Debian's ``/usr/lib/postgresql/<version>/bin`` (newest first), or
the PATH; without them the test skips, and with ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.ci import IN_CI
from tests.support.processes import free_port

_DEBIAN = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
"""initdb and postgres refuse to run as root; as root, the cluster runs as this user."""


def server_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None."""
    configured = os.environ.get("SCIM_SYNC_TEST_PG_BIN")
    candidates = [Path(configured)] if configured else []
    if _DEBIAN.is_dir():
        versions = [p for p in _DEBIAN.iterdir() if re.fullmatch(r"\d+", p.name)]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    return next(
        (c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None
    )


class PrivateCluster:
    def __init__(self, binaries: Path, root: Path) -> None:
        self._bin = binaries
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SERVER_USER, "-A", "trust", "--no-sync")

    def start(self) -> None:
        """Returns once the server accepts connections (``pg_ctl -w``)."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, sessions are ended."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found"
        if IN_CI:
            pytest.fail(f"{message}; CI must have them")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="scim-sync-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVER_USER)
    cluster = PrivateCluster(binaries, root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
