"""A real Samba Active Directory domain controller for tests, one per machine, shared.

Samba's ports are fixed (LDAP 389, LDAPS 636, Kerberos 88), so only one DC can run on a machine.
Every test process that wants it (pytest-xdist workers, a second test run, a benchmark) goes
through :func:`shared_dc`: under an exclusive file lock it either finds the running DC (its PID
file names a live ``samba`` and LDAPS answers) or provisions a fresh one into a directory under
the system's temporary directory and starts it; each user leaves a marker named by its PID, and
the last one out stops the DC by its PID. A user that died without leaving is noticed by its PID
no longer existing.

The DC gets its own CA and a server certificate for 127.0.0.1 and ``localhost``, so LDAPS and
StartTLS are verified like in production. Readiness is a TCP connect to 636 that succeeds; between
refused attempts the caller waits on the process itself (``wait`` with a short timeout), which also
notices a DC that exits during start. Nothing sleeps to wait for anything.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import ldap3

from connectors.ldap.connection import VerifiedTls
from tests.support.slapd import make_pki

REALM = "SCIMSYNC.TEST"
DOMAIN = "SCIMSYNC"
BASE_DN = "DC=scimsync,DC=test"
ADMIN = f"Administrator@{REALM}"
ADMIN_PASSWORD = "Test-only-Adm1n-secret"  # a throwaway DC on loopback
PORTS = (389, 636, 88)
MANAGED_OUS = ("People", "Groups", "Disabled")
HOME = Path(tempfile.gettempdir()) / "scim-sync-samba-dc"
LOCK_FILE = Path(tempfile.gettempdir()) / "scim-sync-samba-dc.lock"
START_TIMEOUT = 60.0
UID_SEARCH_FLAGS = 9
"""``uid``'s searchFlags as provisioned (8, preserve on delete) with bit 1, "indexed", set."""


class DcUnavailableError(RuntimeError):
    """No DC can run here: Samba is not installed, or another program holds its ports."""


@dataclass(frozen=True)
class SambaDc:
    """The running DC as a test sees it."""

    home: Path
    pid: int
    ca_file: Path
    provision_seconds: float
    """How long provisioning and start took for the process that started it (0 when it found
    the DC running)."""

    ldaps_url: str = "ldaps://127.0.0.1:636"
    ldap_url: str = "ldap://127.0.0.1:389"
    base_dn: str = BASE_DN
    admin: str = ADMIN
    admin_password: str = ADMIN_PASSWORD

    def ou(self, name: str) -> str:
        return f"OU={name},{self.base_dn}"

    def tls(self, ca_file: Path | None = None) -> ldap3.Tls:
        """The project's own verifying TLS (ldap3's host-name check is deprecated)."""
        return VerifiedTls(str(ca_file or self.ca_file))

    def connect(self, *, starttls: bool = False, bind: bool = True) -> ldap3.Connection:
        """A SAFE_SYNC ldap3 connection as the domain administrator: LDAPS, or ldap:// with
        StartTLS when ``starttls``, or plain ldap:// without binding when ``bind`` is False."""
        url = self.ldap_url if starttls or not bind else self.ldaps_url
        server = ldap3.Server(url, get_info=ldap3.NONE, tls=self.tls(), connect_timeout=10)
        conn = ldap3.Connection(
            server,
            self.admin if bind else None,
            self.admin_password if bind else None,
            client_strategy=ldap3.SAFE_SYNC,
            check_names=False,
            raise_exceptions=False,
            auto_range=False,  # ranges are followed by our own code, which the tests prove
            return_empty_attributes=False,  # ldap3 would add (then fumble) the requested range names
        )
        conn.open()
        if starttls:
            conn.start_tls()
        if bind and not conn.bind():
            raise RuntimeError(f"bind to the DC failed: {conn.result}")
        return conn


def find_samba() -> str | None:
    path = "/usr/sbin:/sbin:/usr/bin:/bin"
    if shutil.which("samba-tool", path=path) is None:
        return None
    return shutil.which("samba", path=path)


@contextmanager
def shared_dc() -> Iterator[SambaDc]:
    """The machine's test DC for the duration of the block, started if nobody runs it."""
    with _locked():
        dc = _running() or _provision_and_start()
        users = HOME / "users"
        users.mkdir(exist_ok=True)
        # one file per use, not per process: a process may use the DC twice at once (a session
        # fixture, and a benchmark run in that process), and the inner use ending must not
        # make the outer one look gone
        me = users / f"{os.getpid()}.{uuid.uuid4().hex}"
        me.touch()
    try:
        yield dc
    finally:
        with _locked():
            me.unlink(missing_ok=True)
            holders = [p.name.split(".")[0] for p in users.iterdir()]
            if not any(_alive(int(pid)) for pid in holders if pid.isdigit()):
                stop(dc.pid)


@contextmanager
def _locked() -> Iterator[None]:
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running() -> SambaDc | None:
    pid_file = HOME / "dc" / "run" / "samba.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _is_samba(pid) or not _accepts(636):
        return None
    return SambaDc(HOME, pid, HOME / "pki" / "ca.pem", 0.0)


def _provision_and_start() -> SambaDc:
    samba = find_samba()
    if samba is None:
        raise DcUnavailableError(
            "Samba AD DC is not installed (Debian: apt-get install --no-install-recommends "
            "samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools)"
        )
    busy = [port for port in PORTS if _accepts(port)]
    if busy:
        raise DcUnavailableError(f"another program listens on port(s) {busy} of this machine")
    started = time.monotonic()
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    pki = make_pki(HOME / "pki", ("127.0.0.1", "localhost"))
    pki.key_file.chmod(0o600)
    target = HOME / "dc"
    options = {
        "interfaces": "lo",
        "bind interfaces only": "yes",
        "server services": "ldap, kdc",
        "tls enabled": "yes",
        "tls keyfile": str(pki.key_file),
        "tls certfile": str(pki.cert_file),
        "tls cafile": str(pki.ca_file),
        "pid directory": str(target / "run"),
        "log file": str(target / "log.samba"),
        # no fsync: a test DC that loses its data on a crash loses nothing (Samba's own
        # self-tests run so), and writes are an order of magnitude faster
        "ldb:nosync": "true",
        # the uid index below is a schema change, which Samba refuses unless allowed
        "dsdb:schema update allowed": "true",
    }
    done = subprocess.run(
        [
            "samba-tool",
            "domain",
            "provision",
            f"--targetdir={target}",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            "--use-rfc2307",
            "--host-name=dc1",
            f"--adminpass={ADMIN_PASSWORD}",
            *(f"--option={key} = {value}" for key, value in options.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"samba-tool domain provision failed: {done.stderr[-2000:]}")
    (target / "run").mkdir(exist_ok=True)
    with (target / "samba.out").open("w") as out:
        proc = subprocess.Popen(
            [samba, "-s", str(target / "etc" / "smb.conf"), "-i", "-M", "single"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED.append(proc)
    try:
        _await_ldaps(proc, target)
        dc = SambaDc(HOME, proc.pid, pki.ca_file, time.monotonic() - started)
        _create_managed_ous(dc)
    except BaseException:
        stop(proc.pid)
        raise
    return dc


_STARTED: list[subprocess.Popen[bytes]] = []
"""The DC processes this process started: kept referenced, since the DC may outlive its starter
when other test processes still use it."""


def _await_ldaps(proc: subprocess.Popen[bytes], target: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _accepts(636):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the DC did not open LDAPS within {START_TIMEOUT}s")
        with suppress(subprocess.TimeoutExpired):
            code = proc.wait(timeout=0.05)
            log = (target / "samba.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"samba exited with {code} during start: {log}")


def _create_managed_ous(dc: SambaDc) -> None:
    """The managed OUs, and ``uid`` indexed (searchFlags bit 1), as docs/active-directory.md
    asks of a domain scim-sync writes to: it finds accounts by uid, and without the index
    every such search reads every object of the domain."""
    conn = dc.connect()
    try:
        uid = f"CN=uid,CN=Schema,CN=Configuration,{dc.base_dn}"
        indexed = [(ldap3.MODIFY_REPLACE, [str(UID_SEARCH_FLAGS)])]
        _, result, _, _ = conn.modify(uid, {"searchFlags": indexed})
        if result["result"] != 0:
            raise RuntimeError(f"indexing uid failed: {result}")
        for name in MANAGED_OUS:
            _, result, _, _ = conn.add(dc.ou(name), ["top", "organizationalUnit"], {"ou": name})
            if result["result"] not in (0, 68):
                raise RuntimeError(f"creating {dc.ou(name)} failed: {result}")
    finally:
        conn.unbind()


def stop(pid: int, timeout: float = 30) -> None:
    """Terminate the DC by its PID and wait for it to be gone (a pidfd, so no polling)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not select.select([pidfd], [], [], timeout)[0]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            select.select([pidfd], [], [], 5)
    finally:
        os.close(pidfd)
    for proc in _STARTED:
        if proc.pid == pid:
            proc.wait(timeout=5)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_samba(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"samba" in cmdline
