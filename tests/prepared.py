"""Deployments brought into a state once per test process, then copied for each test.

Many tests start from the same state: the demo synced once, the starter synced twice.
Writing and syncing takes seconds on every start, and the state is the same each time. So
the first test that asks for it builds it in a folder of its own (with its own PostgreSQL
database when asked for one), and every test gets a copy: the folder with its files,
keyring and targets, and the store (SQLite's file, or a PostgreSQL copy made by the server
from the first database as a template). Each test then writes only to its own copy.

How the state is built is still tested where it is the subject (tests/test_demo_end_to_end.py,
the sync tests); here it is only reused.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

from policies import keys
from tests.services import clone_postgres_database, template_postgres_database

#: Writes a deployment into the folder given; returns its kontor.yaml, whose store must be
#: the folder's own SQLite file ``database: kontor.db``.
Write = Callable[[Path], Path]
#: Brings the deployment of that kontor.yaml into the state wanted (syncs it, ...).
Prepare = Callable[[Path], None]
_STORE = "kontor.db"
INIT_TEMPLATE = Path(__file__).resolve().parent.parent / "hub" / "init_template"


def write_starter(folder: Path) -> Path:
    """The `kontor init` starter deployment with a keyring of its own; its kontor.yaml."""
    shutil.copytree(INIT_TEMPLATE, folder)
    (folder / "data" / "target").mkdir(parents=True, exist_ok=True)
    keys.create(folder / ".kontor" / "keyring.json")
    return folder / "kontor.yaml"


@dataclass(frozen=True)
class _Template:
    folder: Path
    config: Path
    database: str  # the PostgreSQL template database; "" for the folder's SQLite store


_builders: dict[str, tuple[Write, Prepare]] = {}


def copy_of(name: str, write: Write, prepare: Prepare, folder: Path,
            database_url: str | None = None) -> Path:
    """``folder`` (new or empty) becomes a copy of the state called ``name``; its store is
    ``database_url`` (a fresh empty database, which is replaced) or the folder's own
    SQLite file. Returns the copy's kontor.yaml.

    ``name`` stands for ``write`` and ``prepare``: one name, one state, in every test.
    """
    _builders.setdefault(name, (write, prepare))
    url = make_url(database_url) if database_url else None
    postgres = url is not None and url.get_backend_name() == "postgresql"
    template = _template(name, postgres=postgres)
    shutil.copytree(template.folder, folder, dirs_exist_ok=True)
    config = folder / template.config.relative_to(template.folder)
    if url is None:
        return config
    if postgres:
        clone_postgres_database(template.database, str(database_url))
    else:  # the template's own SQLite store (and its write-ahead log) to the path given
        assert url.database, database_url
        for suffix in ("", "-wal", "-shm"):
            store = config.parent / f"{_STORE}{suffix}"
            if store.exists():
                store.rename(f"{url.database}{suffix}")
    _set_database(config, str(database_url))
    return config


@functools.cache
def _template(name: str, *, postgres: bool) -> _Template:
    write, prepare = _builders[name]
    folder = Path(tempfile.mkdtemp(prefix=f"kontor-{name}-")) / "deploy"
    atexit.register(shutil.rmtree, folder.parent, ignore_errors=True)
    config = write(folder)
    assert re.search(rf"(?m)^database:\s*{re.escape(_STORE)}\s*(#.*)?$",
                     config.read_text(encoding="utf-8")), f"{name}: store must be {_STORE}"
    database = ""
    if postgres:
        url, database = template_postgres_database()
        _set_database(config, url)
    prepare(config)  # must leave no connection open: PostgreSQL copies only an idle one
    return _Template(folder, config, database)


def _set_database(config: Path, url: str) -> None:
    config.write_text(re.sub(r"(?m)^database:.*$", f"database: {url}",
                             config.read_text(encoding="utf-8")), encoding="utf-8")
