"""A throwaway OpenLDAP slapd on a free loopback port, with its own cn=config and data.

Readiness is the ``slapd starting`` line slapd prints on stderr (debug level ``none`` prints
that and little else), awaited on a queue with a timeout, then the listening port; no sleeps. The data
survives ``stop()``/``start()`` so a test can take the directory away and bring it back.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.ci import IN_CI
from tests.support.processes import free_port

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "test-only-secret"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def find_slapd() -> str | None:
    return shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin:/sbin")


def require_slapd() -> None:
    if find_slapd() is None:
        message = "slapd is not installed (Debian: apt-get install slapd ldap-utils)"
        if IN_CI:
            pytest.fail(f"slapd is required in CI: {message}")
        pytest.skip(message)


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate for 127.0.0.1/localhost, plus a CA that signed nothing."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    other_ca_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_pki(directory: Path, host_names: tuple[str, ...] = ("localhost",)) -> Pki:
    """Certificates for a test: the server certificate names ``host_names`` and 127.0.0.1 only
    when "127.0.0.1" is among them, so a test can make the name check fail on purpose."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("scim-sync test CA")
    _, other = _ca("unrelated test CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = []
    for host in host_names:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host_names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pki = Pki(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "other.pem",
    )
    pki.ca_file.write_bytes(ca_cert.public_bytes(pem))
    pki.other_ca_file.write_bytes(other.public_bytes(pem))
    pki.cert_file.write_bytes(cert.public_bytes(pem))
    pki.key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pki


class SlapdServer:
    def __init__(self, workdir: Path, *, pki: Pki | None = None) -> None:
        binary = find_slapd()
        if binary is None:
            raise RuntimeError("slapd is not installed (Debian: apt-get install slapd ldap-utils)")
        self.binary = binary
        self.workdir = workdir
        self.pki = pki
        self.port = free_port()
        self.tls_port = free_port() if pki else None
        self._proc: subprocess.Popen[str] | None = None
        self._configure()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def _configure(self) -> None:
        config_dir, data_dir = self.workdir / "slapd.d", self.workdir / "data"
        config_dir.mkdir(parents=True)
        data_dir.mkdir()
        tls = ""
        if self.pki:
            tls = (
                f"olcTLSCACertificateFile: {self.pki.ca_file}\n"
                f"olcTLSCertificateFile: {self.pki.cert_file}\n"
                f"olcTLSCertificateKeyFile: {self.pki.key_file}\n"
            )
        includes = "".join(f"include: file:///etc/ldap/schema/{s}.ldif\n" for s in SCHEMAS)
        ldif = f"""dn: cn=config
objectClass: olcGlobal
cn: config
{tls}
dn: cn=module,cn=config
objectClass: olcModuleList
cn: module
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}
dn: olcDatabase=mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: mdb
olcSuffix: {SUFFIX}
olcRootDN: {ROOT_DN}
olcRootPW: {ROOT_PW}
olcDbDirectory: {data_dir}
olcDbNoSync: TRUE
olcDbMaxSize: 1073741824
olcDbIndex: objectClass,uid,cn,entryUUID,member,uniqueMember,manager eq
"""
        base = f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n"
        (self.workdir / "config.ldif").write_text(ldif)
        (self.workdir / "base.ldif").write_text(base)
        self._run("slapadd", "-n0", "-F", str(config_dir), "-l", str(self.workdir / "config.ldif"))
        self._run(
            "slapadd", "-F", str(config_dir), "-b", SUFFIX, "-l", str(self.workdir / "base.ldif")
        )

    @staticmethod
    def _run(*args: str) -> None:
        tool = shutil.which(args[0]) or shutil.which(args[0], path="/usr/sbin:/sbin") or args[0]
        done = subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()}")

    def start(self, timeout: float = 15) -> None:
        if self._proc is not None:
            return
        urls = [f"ldap://127.0.0.1:{self.port}/"]
        if self.tls_port:
            urls.append(f"ldaps://127.0.0.1:{self.tls_port}/")
        proc = subprocess.Popen(
            [self.binary, "-d", "none", "-h", " ".join(urls), "-F", str(self.workdir / "slapd.d")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert proc.stderr is not None
            with proc.stderr:
                for line in proc.stderr:
                    lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        seen: list[str] = []
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                proc.kill()
                raise RuntimeError(f"slapd did not start within {timeout}s: {seen}") from None
            if line is None:
                raise RuntimeError(f"slapd exited during start: {''.join(seen)}")
            seen.append(line)
            if "slapd starting" in line:
                self._proc = proc
                self._await_listening(timeout)
                return

    def _await_listening(self, timeout: float) -> None:
        """slapd binds its ports, prints "slapd starting", then calls listen() in its daemon
        thread: connect until the port accepts (refusals are immediate; bounded by a deadline)."""
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p]
        while ports:
            try:
                socket.create_connection(("127.0.0.1", ports[0]), timeout=timeout).close()
                ports.pop(0)
            except ConnectionRefusedError:
                if time.monotonic() > deadline or not self.running:
                    raise RuntimeError("slapd never accepted connections") from None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
