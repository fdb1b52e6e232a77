"""Logging: Rich on a terminal, structured JSON lines for machines, the run id on both.

Log messages name systems, streams, records and reasons, never field values; the JSON
formatter adds no record data of its own either.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

from rich.console import Console
from rich.logging import RichHandler

run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("run_id", default=None)


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(), "run_id": getattr(record, "run_id", None)}
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: an exception's text can carry a value from a driver.
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


def configure(*, verbose: bool = False, json_lines: bool = False) -> None:
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(show_path=False, console=Console(stderr=True))  # stdout: data
        handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_RunIdFilter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        handlers=[handler], force=True)
