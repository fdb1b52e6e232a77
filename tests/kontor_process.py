"""`kontor` as its own operating-system process, started in milliseconds.

Tests that kill, race or serve need Kontor in a process of its own: a real SIGKILL, two
syncs at the same moment, a server on a port. A fresh interpreter spends 1 to 2 s (5 s on a
busy machine) importing SQLAlchemy, pandas, FastAPI, cryptography and Kontor itself, and
some tests start dozens. So every test worker keeps one `multiprocessing` forkserver that
imports those modules once; each `kontor` here is a fork of it. The fork is a separate
process with its own PID, memory, file descriptors and signals; a SIGKILL kills it midway
exactly as it would kill `kontor` started from a shell. What differs from
``python -c "from hub.cli.main import app; app()"``:

- the modules are already imported (nothing runs at import time except declarations and
  reading ``KONTOR_FAULT``, which the child reads again: ``hub.faults.configure``);
- ``atexit`` handlers do not run at exit (Kontor registers none).

How fast the real command line starts is measured with real interpreters, in
tests/test_cli_startup.py and bench/cli_startup.py.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import multiprocessing.context
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Imported once per test worker by the forkserver: what a sync, serve or audit command
#: needs. A name that fails to import is skipped (the forkserver ignores ImportError).
PRELOAD = [
    "sqlalchemy", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql", "psycopg", "pymysql", "alembic.command", "alembic.runtime.migration",
    "pandas", "numpy", "cryptography.hazmat.primitives.ciphers.aead", "pydantic", "sqlmodel",
    "fastapi", "uvicorn", "starlette", "requests", "lxml.etree", "rapidfuzz", "orjson",
    "yaml", "jinja2", "apscheduler.schedulers.background", "phonenumbers", "email_validator",
    "pycountry", "fideslang", "tenacity", "prometheus_client", "rich.progress", "typer",
    "hub.cli.main", "hub.cli.sync_cmd", "hub.cli.serve_cmd", "hub.cli.audit_cmd",
    "hub.cli.status_cmd", "hub.cli.tokens_cmd", "hub.context", "hub.sync.runner",
    "hub.golden.writer", "hub.api.app", "connectors.csv", "connectors.sql", "connectors.xml",
    "connectors.fixedwidth", "connectors.rest",
]

_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _child(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked process: the environment, directory and output files a `kontor`
    started from a shell would have, then the command line itself."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8",  # noqa: SIM115
                                  errors="backslashreplace", line_buffering=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from hub import faults

    faults.configure(env.get("KONTOR_FAULT", ""))
    sys.argv = ["kontor", *args]
    from hub.cli.main import app

    try:
        app(args, prog_name="kontor")  # ends in SystemExit(code): multiprocessing's exit code
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class KontorProcess:
    """A running `kontor ARGS`, like ``subprocess.Popen`` with output into files."""

    def __init__(self, args: Sequence[str], *, cwd: Path | str | None = None,
                 env: Mapping[str, str] | None = None, stdout: Path | None = None,
                 stderr: Path | None = None):
        self._scratch = (None if stdout and stderr
                         else Path(tempfile.mkdtemp(prefix="kontor-process-")))
        self.stdout_path = stdout or Path(f"{self._scratch}/stdout")
        self.stderr_path = stderr or Path(f"{self._scratch}/stderr")
        self.args = list(args)
        self._process = _forkserver().Process(
            target=_child, daemon=False,
            args=(self.args, str(cwd or os.getcwd()), dict(os.environ if env is None else env),
                  str(self.stdout_path), str(self.stderr_path)))
        self._process.start()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or minus the signal that ended it; None while it runs."""
        return self._process.exitcode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(["kontor", *self.args], timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return self.stdout, self.stderr

    def close(self) -> None:
        """Forget the output files in the scratch folder (not the caller's own files)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def run(args: Sequence[str], *, cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`kontor ARGS` to the end, like ``subprocess.run(..., capture_output=True,
    text=True)``; killed (and TimeoutExpired raised) after ``timeout`` seconds."""
    process = KontorProcess(args, cwd=cwd, env=env)
    try:
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(["kontor", *args], code, process.stdout,
                                           process.stderr)
    finally:
        process.close()
