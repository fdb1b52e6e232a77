"""Shared measurement plumbing for the benchmarks: one fresh process per measurement.

Each measurement runs as ``python SCRIPT --child NAME ...`` so its peak memory (VmHWM) is
its own, not inherited from earlier ones; the child prints one JSON line with ``rows``,
``seconds`` and ``peak_mib``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def result(rows: int, seconds: float) -> dict[str, float]:
    """What a child reports (print it with ``report``)."""
    return {"rows": rows, "seconds": seconds, "peak_mib": peak_rss_mib()}


def report(measured: dict[str, float]) -> None:
    print(json.dumps(measured))


def in_fresh_process(script: str | Path, name: str, args: Sequence[str]) -> dict[str, float]:
    """Run one measurement of ``script`` in a new interpreter; return what it reported."""
    out = subprocess.run([sys.executable, str(script), "--child", name, *args],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def medians(runs: list[dict[str, float]]) -> tuple[float, float]:
    """Median records/s and median peak MiB of repeated runs."""
    return (statistics.median(r["rows"] / r["seconds"] for r in runs),
            statistics.median(r["peak_mib"] for r in runs))


def table_row(label: str, rate: float, peak: float, width: int = 46) -> str:
    return f"{label:<{width}}{rate:>12,.0f}{peak:>10.0f}"


def table_header(first: str, width: int = 46) -> str:
    return f"{first:<{width}}{'records/s':>12}{'peak MiB':>10}"
