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
#: Kontor's own heavy parts: what a command needs only once it runs.
HEAVY_PARTS = ("hub.context", "hub.config", "hub.store", "hub.sync", "hub.golden",
               "hub.audit", "hub.api")
#: Commands whose modules another change is reworking; their lazy imports follow with it.
#: (hub/cli/audit_cmd.py and hub/cli/quality_cmd.py; remove a name once its module is lazy.)
PENDING: set[str] = set()


def _modules_after(*argv: str) -> set[str]:
    """Every module a fresh interpreter has imported after running ``kontor argv``."""
    code = ("import sys\nfrom hub.cli.main import app\n"
            f"try:\n    app({list(argv)!r})\nexcept SystemExit:\n    pass\n"
            "print('\\n@@', ' '.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    return set(done.stdout.rsplit("\n@@", 1)[1].split())


def _imported_by(*argv: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``kontor argv``."""
    return {m.split(".")[0] for m in _modules_after(*argv)}


def _heavy(modules: set[str]) -> list[str]:
    tops = {m.split(".")[0] for m in modules}
    return sorted({h for h in HEAVY if h in tops} |
                  {p for p in HEAVY_PARTS for m in modules if m == p or m.startswith(p + ".")})


def test_help_imports_no_heavy_library() -> None:
    assert not _imported_by("--help") & set(HEAVY)
    assert not _imported_by("audit", "--help") & {"pandas", "fastapi", "matplotlib"}


def test_every_commands_help_imports_no_heavy_library() -> None:
    """`kontor CMD --help` (and a group's sub-command's) answers before any of the store,
    the sync engine, the configuration models or their libraries is loaded.

    One fresh interpreter runs every command's --help in turn and lists, after each,
    what was newly imported: a command that loads a heavy part is caught at its own turn
    (what earlier ones loaded is light, or the earlier one is caught)."""
    commands = [[name, "--help"] for name in sorted(set(COMMANDS) - PENDING)]
    commands += [["runs", "show", "--help"], ["quarantine", "list", "--help"]]
    code = ("import sys\nfrom hub.cli.main import app\n"
            f"for argv in {commands!r}:\n"
            "    try:\n        app(argv)\n    except SystemExit:\n        pass\n"
            "    print('\\n@@', ' '.join(argv[:-1]), '@@', ' '.join(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    found = {}
    for chunk in done.stdout.split("\n@@ ")[1:]:
        name, modules = chunk.split(" @@ ", 1)
        found[name] = _heavy(set(modules.split("\n", 1)[0].split()))  # not the next help
    assert len(found) == len(commands)
    assert {name: heavy for name, heavy in found.items() if heavy} == {}


def test_the_token_roles_offered_are_the_roles() -> None:
    from hub.auth.roles import Role
    from hub.cli.tokens_cmd import RoleName

    assert [r.value for r in RoleName] == [r.value for r in Role]


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
