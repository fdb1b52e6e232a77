"""Secret references: ``${env:NAME}`` and ``${file:PATH}``, never literal secrets in YAML."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

REFERENCE = re.compile(r"\$\{(env|file):([^}]+)\}")


class UnresolvedSecret(Exception):
    """A reference points at nothing (unset variable, missing file).

    ``key`` is the path of the offending value inside what was resolved
    (``password``, ``options.token``, ``hosts.0``; empty for a plain string), so that the
    caller can name the exact key.
    """

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and REFERENCE.fullmatch(value.strip()) is not None


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def resolve_all(value: Any, base_dir: Path, prefix: str = ""
                ) -> tuple[Any, list[UnresolvedSecret]]:
    """Like ``resolve``, but collect every unresolved reference instead of stopping at the
    first; each error's ``key`` is its full path (``prefix`` joined with the inner keys)."""
    errors: list[UnresolvedSecret] = []

    def walk(v: Any, path: str) -> Any:
        if isinstance(v, dict):
            return {k: walk(item, _join(path, k)) for k, item in v.items()}
        if isinstance(v, list):
            return [walk(item, _join(path, i)) for i, item in enumerate(v)]
        try:
            return resolve(v, base_dir)
        except UnresolvedSecret as exc:
            errors.append(UnresolvedSecret(str(exc), path))
            return v

    return walk(value, prefix), errors


def resolve(value: Any, base_dir: Path) -> Any:
    """Replace every reference inside ``value`` (recursively through dicts and lists).

    Raises ``UnresolvedSecret`` whose ``key`` names where inside ``value`` it stands.
    """
    if isinstance(value, dict | list):
        resolved, errors = resolve_all(value, base_dir)
        if errors:
            raise errors[0]
        return resolved
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
