"""Load YAML while remembering on which line each key path stands, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.errors import ConfigError, ConfigProblem


class YamlDocument:
    """A parsed YAML file plus the line of every key path (``systems.crm.settings``)."""

    def __init__(self, path: Path, data: Any, lines: dict[str, int], *, empty: bool = False):
        self.path = path
        self.data = data
        self._lines = lines
        #: The file holds no YAML value at all (nothing, or only blank lines and comments).
        self.empty = empty

    def where(self, key_path: str) -> str:
        """``file:line`` for the deepest known prefix of ``key_path``."""
        parts = key_path.split(".") if key_path else []
        while parts:
            line = self._lines.get(".".join(parts))
            if line is not None:
                return f"{self.path}:{line}"
            parts.pop()
        return str(self.path)

    def problem(self, key_path: str, message: str) -> ConfigProblem:
        return ConfigProblem(self.where(key_path), key_path, message)

    def validation_problems(self, exc: ValidationError, prefix: str = "") -> list[ConfigProblem]:
        """pydantic's errors as problems; never the offending input (it may be a secret)."""
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            key_path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(self.problem(key_path, message))
        return problems


def _index_lines(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[path] = key_node.start_mark.line + 1
            _index_lines(value_node, path, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}.{i}" if prefix else str(i)
            lines[path] = item.start_mark.line + 1
            _index_lines(item, path, lines)


#: libyaml's parser when PyYAML was built with it (the wheels are): about ten times faster
#: than the pure-Python one, and every command parses kontor.yaml, mappings and policies.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """A safe loader that refuses duplicate keys instead of silently keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> YamlDocument:
    """Parse ``path`` safely; syntax errors become a ``ConfigError`` with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"not UTF-8 ({exc.reason})")]) from None
    loader = _UniqueKeyLoader(text)
    try:  # one parse: the node tree gives the lines, and the values are built from it
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(where, "", f"invalid YAML: {reason}")]) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _index_lines(node, "", lines)
    return YamlDocument(path, data if data is not None else {}, lines, empty=node is None)
