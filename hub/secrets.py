"""Secret references: ``${env:NAME}`` and ``${file:PATH}``, never literal secrets in YAML."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")


class UnresolvedSecret(Exception):
    """A reference points at nothing (unset variable, missing file)."""


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None


def resolve(value: Any, base_dir: Path) -> Any:
    """Replace every reference inside ``value`` (recursively through dicts and lists)."""
    if isinstance(value, dict):
        return {k: resolve(v, base_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, base_dir) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2).strip()
        if kind == "env":
            if name not in os.environ:
                raise UnresolvedSecret(f"environment variable {name} is not set")
            return os.environ[name]
        path = (base_dir / name).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            raise UnresolvedSecret(f"secret file {name} cannot be read") from None

    return REFERENCE.sub(substitute, value)
