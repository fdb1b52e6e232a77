"""Benchmark: how soon the command line answers (issue 16).

Each case runs as a fresh process, --runs times, interleaved so a burst of load on the
machine hits every case alike; the median and the fastest run are printed beside
``python -c pass`` (the interpreter's own start-up, which no command can beat):

  - ``kontor --help``, ``kontor sync --help``, ``kontor status --help``: until the process
    has printed its help and exited;
  - ``kontor sync`` on a demo deployment (synced once before, so each timed run finds
    nothing to do): until its first line is on the screen. It runs on a pseudo-terminal
    of 80 columns, as a person would see it; the run itself goes on to its end, untimed.

    python bench/cli_startup.py [--runs 10] [--customers 200 --employees 30]
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KONTOR = str(Path(sys.executable).parent / "kontor")
_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def until_exit(argv: list[str], cwd: Path) -> float:
    """Seconds from start until the process has exited (its output thrown away)."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return time.perf_counter() - start


def until_first_line(argv: list[str], cwd: Path, timeout: float = 120.0) -> float:
    """Seconds from start until the process shows something on an 80-column terminal;
    then waits (untimed) for it to finish."""
    leader, follower = pty.openpty()
    import fcntl
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdin=follower, stdout=follower,
                               stderr=follower, env=env, close_fds=True)
    os.close(follower)
    first: float | None = None
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                raise TimeoutError(f"{' '.join(argv)} showed nothing in {timeout:.0f} s")
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not data:
                break
            if first is None and _ESCAPE.sub(b"", data).strip():
                first = time.perf_counter() - start
    finally:
        os.close(leader)
        process.wait()
    if first is None:
        raise RuntimeError(f"{' '.join(argv)} printed nothing")
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--employees", type=int, default=30)
    args = parser.parse_args()
    from hub.demo import write_demo

    with tempfile.TemporaryDirectory(prefix="kontor-startup-") as tmp:
        demo = write_demo(Path(tmp) / "demo", customers=args.customers,
                          employees=args.employees, seed=16)
        folder = demo.target
        subprocess.run([KONTOR, "sync"], cwd=folder, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)  # the first, full sync
        cases: dict[str, Callable[[], float]] = {
            "python -c pass": lambda: until_exit([sys.executable, "-c", "pass"], folder),
            "kontor --help": lambda: until_exit([KONTOR, "--help"], folder),
            "kontor sync --help": lambda: until_exit([KONTOR, "sync", "--help"], folder),
            "kontor status --help": lambda: until_exit([KONTOR, "status", "--help"], folder),
            "kontor sync: first line on screen": lambda: until_first_line([KONTOR, "sync"],
                                                                          folder),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, case in cases.items():
                times[name].append(case())
    baseline = statistics.median(times["python -c pass"])
    load = os.getloadavg()[0]
    print(f"CLI start-up, median of {args.runs} runs ({os.cpu_count()} CPUs, load average "
          f"{load:.2f} at the end)")
    print(f"{'command':<36}{'median s':>10}{'fastest s':>11}{'vs python -c pass':>20}")
    for name, runs in times.items():
        median = statistics.median(runs)
        extra = f"+{median - baseline:.3f} s" if name != "python -c pass" else "baseline"
        print(f"{name:<36}{median:>10.3f}{min(runs):>11.3f}{extra:>20}")


if __name__ == "__main__":
    main()
