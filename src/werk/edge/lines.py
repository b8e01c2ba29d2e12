"""Load YAML keeping the line of every key and list item, so errors can name file and line.

The documents are plain ``dict`` and ``list`` subclasses (:class:`LineDict`, :class:`LineList`)
that carry a side table of lines; :func:`line_of` follows a pydantic-style location
(``("sources", 0, "devices", 2, "points", 1, "signal")``) and returns the line of the deepest
part of it that exists in the document. Duplicate keys are refused (YAML allows them and keeps
the last, which hides mistakes in long point tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from werk.errors import ConfigError


class LineDict(dict[object, object]):
    """A mapping from YAML with the line of each key (1-based) and of the mapping itself."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[object, int] = {}


class LineList(list[object]):
    """A sequence from YAML with the line of each item (1-based) and of the sequence itself."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _Loader(yaml.SafeLoader):
    """Safe loader that records lines and refuses duplicate keys."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(
                f"key {key!r} appears twice in one mapping (the first is on line {out.lines[key]})",
                key="edge.duplicate_key",
                line=key_node.start_mark.line + 1,
                field=str(key),
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path) -> object:
    """Read a YAML file with line tracking.

    Raises:
        ConfigError: the file cannot be read or is not valid YAML (names file and line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}", key="edge.unreadable", file=str(path)
        ) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except ConfigError as exc:
        exc.fields["file"] = str(path)
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"{path} is not valid YAML: {exc.problem}",
            key="edge.yaml",
            file=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path} is not valid YAML: {exc}", key="edge.yaml", file=str(path)
        ) from None


def line_of(doc: object, loc: Sequence[object]) -> int | None:
    """Return the line of the deepest part of ``loc`` found in ``doc`` (None if none is)."""
    line: int | None = getattr(doc, "line", None) or None
    node = doc
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


def plain(doc: object) -> object:
    """Return ``doc`` as plain dicts and lists (for validation and copying)."""
    if isinstance(doc, dict):
        return {k: plain(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [plain(v) for v in doc]
    return doc
