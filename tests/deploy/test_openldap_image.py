"""The compose stack's OpenLDAP entrypoint, run against Debian's real slapd: the first start
builds the directory scim-sync expects, a restart keeps it."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ldap3
import pytest

from tests.support.artefacts import DEPLOY
from tests.support.processes import free_port

pytestmark = pytest.mark.ldap

SLAPD = Path("/usr/sbin/slapd")
ENTRYPOINT = DEPLOY / "openldap" / "entrypoint.sh"
BASE = "dc=example,dc=com"
PASSWORD = "workstation-secret"
LISTENING = "listener=0x"


def _require_slapd() -> None:
    if not SLAPD.exists() or not shutil.which("slappasswd", path="/usr/sbin:/usr/bin"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("slapd is required in CI (apt-get install slapd ldap-utils)")
        pytest.skip("slapd is not installed")


class Directory:
    """The entrypoint as a child process; its stderr lines arrive on a queue."""

    def __init__(self, root: Path, port: int, **extra: str) -> None:
        self.url = f"ldap://127.0.0.1:{port}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LDAP_BASE_DN": BASE,
            "LDAP_ADMIN_PASSWORD": PASSWORD,
            "SLAPD_USER": "",
            "SLAPD_CONF_DIR": str(root / "slapd.d"),
            "SLAPD_DATA_DIR": str(root / "data"),
            "SLAPD_RUN_DIR": str(root / "run"),
            "SLAPD_TEMPLATES": str(ENTRYPOINT.parent),
            "SLAPD_URLS": self.url + "/",
            # "conns" logs the moment the listener accepts: the test waits on that line
            "SLAPD_LOG_LEVEL": "conns",
            **extra,
        }
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT)], env=env, stderr=subprocess.PIPE, text=True
        )
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr as stream:
            for line in stream:
                self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"never logged '{text}': {self.seen}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=15)
        self._pump.join(timeout=10)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _require_slapd()
    return tmp_path


@pytest.fixture
def directory(root: Path) -> Iterator[Directory]:
    started = Directory(root, free_port())
    try:
        started.wait_for(LISTENING)
        yield started
    finally:
        started.stop()


@contextmanager
def admin(url: str) -> Iterator[ldap3.Connection]:
    conn = ldap3.Connection(ldap3.Server(url, get_info=ldap3.NONE), f"cn=admin,{BASE}", PASSWORD)
    try:
        assert conn.bind(), conn.result
        yield conn
    finally:
        conn.unbind()


def test_first_start_builds_the_tree_scim_sync_manages(directory: Directory) -> None:
    assert any("created dc=example,dc=com" in line for line in directory.seen)
    with admin(directory.url) as conn:
        conn.search(BASE, "(objectClass=organizationalUnit)", attributes=["ou"])
        assert {str(e.ou) for e in conn.entries} == {"people", "groups", "disabled"}
        # the schemas the default mapping needs are loaded: inetOrgPerson and groupOfNames
        user = f"uid=E1001,ou=people,{BASE}"
        assert conn.add(user, ["inetOrgPerson"], {"cn": "Ada", "sn": "Lovelace", "uid": "E1001"})
        group = f"cn=Engineering,ou=groups,{BASE}"
        assert conn.add(group, ["groupOfNames"], {"cn": "Engineering", "member": [user]})
        assert conn.modify_dn(user, "uid=E1001", new_superior=f"ou=disabled,{BASE}")


def test_anonymous_clients_see_the_root_dse_but_not_the_tree(directory: Directory) -> None:
    server = ldap3.Server(directory.url, get_info=ldap3.NONE)
    anonymous = ldap3.Connection(server)
    try:
        assert anonymous.bind()
        anonymous.search("", "(objectClass=*)", ldap3.BASE, attributes=["namingContexts"])
        assert [str(v) for v in anonymous.entries[0].namingContexts] == [BASE]  # health check
        anonymous.search(BASE, "(objectClass=*)")
        assert anonymous.entries == []
    finally:
        anonymous.unbind()
    wrong = ldap3.Connection(server, f"cn=admin,{BASE}", "wrong")
    try:
        assert not wrong.bind()
        assert wrong.result["description"] == "invalidCredentials"
    finally:
        wrong.unbind()


def test_a_restart_keeps_the_directory(root: Path) -> None:
    port = free_port()
    first = Directory(root, port)
    try:
        first.wait_for(LISTENING)
        with admin(first.url) as conn:
            assert conn.add(f"ou=kept,{BASE}", ["organizationalUnit"], {"ou": "kept"})
    finally:
        first.stop()
    second = Directory(root, port)
    try:
        second.wait_for(LISTENING)
        assert not any("created" in line for line in second.seen)
        with admin(second.url) as conn:
            assert conn.search(f"ou=kept,{BASE}", "(objectClass=*)", search_scope=ldap3.BASE)
    finally:
        second.stop()


def test_a_base_dn_it_cannot_build_is_refused(root: Path) -> None:
    refused = Directory(root, free_port(), LDAP_BASE_DN="o=example")
    try:
        assert refused.proc.wait(timeout=15) == 2
        refused.wait_for("must start with dc=")
    finally:
        refused.stop()
