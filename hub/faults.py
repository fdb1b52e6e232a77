"""Fault injection for the crash-safety tests: `KONTOR_FAULT=name` or `name@N` kills the
process with SIGKILL the first (or Nth) time it passes point `name`. Unset in production:
then a point costs one comparison."""

from __future__ import annotations

import os
import signal

_TARGET, _, _NTH = os.environ.get("KONTOR_FAULT", "").partition("@")
_WANTED = int(_NTH or 1)
_hits = 0


def point(name: str) -> None:
    global _hits
    if name != _TARGET:
        return
    _hits += 1
    if _hits == _WANTED:
        os.kill(os.getpid(), signal.SIGKILL)
