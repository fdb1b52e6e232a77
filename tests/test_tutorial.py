"""docs/tutorial.md does what it says: its files and commands, run in order in a tmp dir.

The tutorial marks its fenced blocks with HTML comments (invisible when rendered):

- ``<!-- tutorial: file PATH -->`` / ``<!-- tutorial: append PATH -->``: the block is
  written to / appended to PATH;
- ``<!-- tutorial: run -->``: each line is run: ``kontor ...`` in-process through the
  Typer app (as tests/test_cli.py does), ``cd``, ``rm``, ``mkdir -p``, and ``python -c``
  in a subprocess; a line may end with ``# exit N`` for the exit code it gives (else 0);
- ``<!-- tutorial: output -->``: the block is what the last command printed. Compared
  line by line with whitespace collapsed, and with times, dates and hashes (which differ
  per run) replaced by placeholders on both sides;
- ``<!-- tutorial: serve -->``: ``kontor serve`` runs the jobs of kontor.yaml on their
  schedule. Here the scheduler is started in-process to see that it takes every job with
  its trigger; before the next command each job's function runs once, as the scheduler
  does when the job is due.

Unmarked blocks (installation, a log excerpt) are for reading only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import output
from hub.cli.main import app

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
WIDTH = 120  # the terminal width the tutorial's output was recorded at
BLOCK = re.compile(r"<!-- tutorial: (?P<kind>\w+) ?(?P<arg>[^>]*?) ?-->\n```[\w-]*\n"
                   r"(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
VOLATILE = [  # what differs from run to run, in the order replaced
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?( \w+)?"), "<when>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{2}:\d{2}\b"), "<time>"),
    (re.compile(r"\d+(\.\d+)?s\b"), "<secs>"),
    (re.compile(r"sha256:[0-9a-f]+…?"), "sha256:<hash>"),
]


@dataclass(frozen=True)
class Step:
    kind: str  # file, append, run, output, serve
    arg: str
    body: str
    line: int  # where the block starts in the tutorial


def steps(text: str) -> list[Step]:
    return [Step(m["kind"], m["arg"].strip(), m["body"], text.count("\n", 0, m.start()) + 1)
            for m in BLOCK.finditer(text)]


def normalised(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        for pattern, placeholder in VOLATILE:
            line = pattern.sub(placeholder, line)
        if line := " ".join(line.split()):
            lines.append(line)
    return lines


class Tutorial:
    """Runs the steps in a scratch folder; remembers the last command's output."""

    def __init__(self, home: Path):
        self.cwd = home
        self.runner = CliRunner()
        self.last = ""
        self.pending: list[str] = []  # jobs the server would run before the next command

    def file(self, step: Step, mode: str = "w") -> None:
        path = self.cwd / step.arg
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode, encoding="utf-8") as f:
            f.write(step.body)

    def run(self, step: Step) -> None:
        for raw in step.body.splitlines():
            argv = shlex.split(raw, comments=True)
            if not argv:
                continue
            code = re.search(r"#\s*exit (\d+)", raw)
            self.command(argv, int(code[1]) if code else 0, f"line {step.line}: {raw}")

    def command(self, argv: list[str], expect: int, where: str) -> None:
        os.chdir(self.cwd)
        name, args = argv[0], argv[1:]
        if name == "kontor":
            result = self.runner.invoke(app, args)
            self.last, code = result.output, result.exit_code
        elif name == "python":
            done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                                  timeout=60, check=False)
            self.last, code = done.stdout + done.stderr, done.returncode
        elif name == "cd":
            self.cwd = (self.cwd / args[0]).resolve()
            return
        elif name == "mkdir" and args[0] == "-p":
            for folder in args[1:]:
                (self.cwd / folder).mkdir(parents=True, exist_ok=True)
            return
        elif name == "rm" and args[0] == "-r":
            for target in args[1:]:
                path = self.cwd / target
                assert path.exists(), f"{where}: nothing to remove at {target}"
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            return
        else:
            raise AssertionError(f"{where}: the test does not know how to run {name!r}")
        assert code == expect, f"{where}: exit code {code}, expected {expect}\n{self.last}"

    def output(self, step: Step) -> None:
        shown, actual = normalised(step.body), normalised(self.last)
        missing = [line for line in shown if line not in actual]
        assert not missing, (f"output block at line {step.line} differs; not printed: "
                             f"{missing}\nprinted:\n{self.last}")

    def serve(self, step: Step) -> None:
        from hub import config
        from hub.jobs import start_scheduler

        assert step.body.strip().startswith("kontor") and "serve" in step.body
        deployment = config.load(self.cwd / "kontor.yaml")
        jobs = deployment.config.jobs
        assert jobs, f"line {step.line}: serve runs the jobs of kontor.yaml, and it has none"
        scheduler = start_scheduler(str(deployment.path), deployment.database_url, jobs)
        try:
            scheduled = {j.name: j.trigger for j in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)
        for name, job in jobs.items():
            assert str(scheduled[name]) == str(job.trigger()), name
        self.pending = list(jobs)

    def run_jobs(self) -> None:
        """What the running server does when the jobs are due (after the next export)."""
        from hub.jobs import run_job

        for name in self.pending:
            run_job(str(self.cwd / "kontor.yaml"), name)
        self.pending = []


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "width", WIDTH)
    tutorial = Tutorial(tmp_path)
    done = []
    for step in steps(TUTORIAL.read_text(encoding="utf-8")):
        if step.kind in ("file", "append"):
            tutorial.file(step, "w" if step.kind == "file" else "a")
        elif step.kind == "run":
            tutorial.run_jobs()
            tutorial.run(step)
        elif step.kind == "output":
            tutorial.output(step)
        elif step.kind == "serve":
            tutorial.serve(step)
        else:
            raise AssertionError(f"line {step.line}: unknown marker {step.kind!r}")
        done.append(step.kind)
    assert done.count("run") >= 8 and "serve" in done and "output" in done
