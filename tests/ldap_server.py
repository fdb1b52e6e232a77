"""A private OpenLDAP server for the LDAP tests: Debian's slapd on a loopback port.

Each test session gets its own slapd (mdb backend, suffix ``dc=kontor,dc=test``, the core,
cosine and inetOrgPerson schemas) in a temp directory, killed at the end. Where slapd is
not installed the tests skip locally and fail in CI (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import stop_process, unavailable

SUFFIX = "dc=kontor,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "kontor-test-root"
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")

CONFIG = """\
include {schemas}/core.schema
include {schemas}/cosine.schema
include {schemas}/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath {modules}
moduleload back_mdb
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{root}"
rootpw {password}
directory {dir}/db
index objectClass eq
index employeeNumber,uid eq
# Bound users get 5 entries per plain search; a paged search may return them all.
limits users size.soft=5 size.hard=5 size.prtotal=unlimited
"""


@dataclass(frozen=True)
class Slapd:
    url: str
    base_dn: str = SUFFIX
    root_dn: str = ROOT_DN
    password: str = ROOT_PASSWORD
    #: An ordinary user: unlike the rootdn, it is subject to the size limit.
    reader_dn: str = f"cn=reader,{SUFFIX}"
    reader_password: str = "kontor-test-reader"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited: {log.read_text(errors='replace')[-500:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("slapd did not start listening within 15 s")


@contextmanager
def slapd_instance() -> Iterator[Slapd]:
    """Start slapd in a temp directory; stop it and remove the directory afterwards.

    The size limit of 5 (not for the rootdn) is deliberate: only a reader that really
    pages sees more entries.
    """
    binary = shutil.which("slapd") or "/usr/sbin/slapd"
    if not Path(binary).exists() or not (SCHEMAS / "inetorgperson.schema").exists():
        unavailable("OpenLDAP slapd is not installed (apt-get install slapd ldap-utils)")
    with tempfile.TemporaryDirectory(prefix="kontor-slapd-") as tmp:
        work = Path(tmp)
        (work / "db").mkdir()
        (work / "slapd.conf").write_text(CONFIG.format(
            schemas=SCHEMAS, dir=work, modules=MODULES, suffix=SUFFIX, root=ROOT_DN,
            password=ROOT_PASSWORD))
        port = _free_port()
        log = work / "slapd.log"
        # -d 0: stay in the foreground (so we own the process) without debug output.
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [binary, "-f", str(work / "slapd.conf"), "-h", f"ldap://127.0.0.1:{port}/",
                 "-d", "0"], stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for(port, process, log)
            yield Slapd(f"ldap://127.0.0.1:{port}")
        finally:
            stop_process(process)


@pytest.fixture(scope="session", name="slapd")
def slapd_fixture() -> Iterator[Slapd]:
    """A running slapd with the suffix entry, ``ou=people`` and a reader account."""
    try:
        manager = slapd_instance()
        server = manager.__enter__()
    except RuntimeError as exc:
        unavailable(f"slapd could not be started: {exc}")
    try:
        from ldap3 import Connection

        with Connection(server.url, server.root_dn, server.password, auto_bind=True) as conn:
            conn.add(SUFFIX, ["dcObject", "organization"], {"dc": "kontor", "o": "Kontor"})
            conn.add(f"ou=people,{SUFFIX}", ["organizationalUnit"], {"ou": "people"})
            conn.add(server.reader_dn, ["organizationalRole", "simpleSecurityObject"],
                     {"cn": "reader", "userPassword": server.reader_password})
        yield server
    finally:
        manager.__exit__(None, None, None)
