"""Fault injection for the crash-safety tests: `KONTOR_FAULT=name` or `name@N` kills the
process with SIGKILL the first (or Nth) time it passes point `name`. Unset in production:
then a point costs one comparison."""

from __future__ import annotations

import os
import signal

_TARGET = ""
_WANTED = 1
_hits = 0


def configure(fault: str) -> None:
    """Arm point ``name`` or ``name@N`` ("" disarms). Read from ``KONTOR_FAULT`` at import;
    the tests' pre-imported kontor processes (tests/kontor_process.py) call it again."""
    global _TARGET, _WANTED, _hits
    _TARGET, _, nth = fault.partition("@")
    _WANTED = int(nth or 1)
    _hits = 0


def point(name: str) -> None:
    global _hits
    if name != _TARGET:
        return
    _hits += 1
    if _hits == _WANTED:
        os.kill(os.getpid(), signal.SIGKILL)


configure(os.environ.get("KONTOR_FAULT", ""))
