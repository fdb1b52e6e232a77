"""The command line answers at once: ``kontor --help`` and a command's --help import none
of the heavy libraries, and the lazy command table tells the truth about every command."""

from __future__ import annotations

import subprocess
import sys

import typer
import typer.main
from typer.testing import CliRunner

from hub.cli.main import COMMANDS, app, load_command

HEAVY = ("sqlalchemy", "pandas", "numpy", "fastapi", "sqlmodel", "matplotlib", "alembic",
         "cryptography", "requests")


def _imported_by(*argv: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``kontor argv``."""
    code = ("import sys\nfrom hub.cli.main import app\n"
            f"try:\n    app({list(argv)!r})\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return set(done.stdout.split())


def test_help_imports_no_heavy_library() -> None:
    assert not _imported_by("--help") & set(HEAVY)
    assert not _imported_by("audit", "--help") & {"pandas", "fastapi", "matplotlib"}


def test_the_table_matches_every_command() -> None:
    """Each summary is the first paragraph of the command's help, so `kontor --help` says
    what the command itself says."""
    for name in COMMANDS:
        command = load_command(name)
        assert command.name == name
        real = " ".join((command.help or "").split("\n\n")[0].split())
        assert COMMANDS[name][2] == real, name
    group = typer.main.get_group(app)
    assert set(group.list_commands(typer.Context(group))) == set(COMMANDS)


def test_commands_still_run_and_list() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    sub = runner.invoke(app, ["audit", "--help"])
    assert sub.exit_code == 0 and "verify" in sub.output and "trace" in sub.output
    assert runner.invoke(app, ["nosuch"]).exit_code == 2
