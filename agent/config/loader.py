"""Reads YAML configuration safely and validates it, mapping every error to its line.

Parsing uses yaml.SafeLoader only, with limits on size, nesting depth and node
count (aliases are counted each time they are expanded, which stops billion-laughs
documents before anything is built). Called by the CLI and the supervisor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from agent.config.schema import AgentConfig
from agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_bytes: int = 256 * 1024
    max_depth: int = 32
    max_nodes: int = 50_000


LineIndex = dict[tuple[str | int, ...], int]


def load_config(path: Path, limits: ParseLimits = ParseLimits()) -> AgentConfig:
    """Read and validate a config file; raise ConfigError naming the file, field and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    return load_config_text(data, source=str(path), limits=limits)


def load_config_text(text: bytes | str, source: str = "<config>", limits: ParseLimits = ParseLimits()) -> AgentConfig:
    """Validate a YAML (or JSON) document; raise ConfigError with one line per problem."""
    document, lines = parse_yaml(text, source, limits)
    return validate_document(document, lines, source)


def parse_yaml(text: bytes | str, source: str, limits: ParseLimits) -> tuple[Any, LineIndex]:
    """Parse one YAML document into plain data plus a map from field path to 1-based line."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > limits.max_bytes:
        raise ConfigError(f"{source}: document is {len(raw)} bytes; the limit is {limits.max_bytes}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from exc
    loader = yaml.SafeLoader(decoded)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(f"{source}: the document is empty")
        lines: LineIndex = {}
        _index_lines(node, (), lines, limits, source, [0])
        document = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping, got {type(document).__name__}")
    return document, lines


def _index_lines(
    node: yaml.Node, path: tuple[str | int, ...], lines: LineIndex, limits: ParseLimits, source: str, count: list[int]
) -> None:
    count[0] += 1
    if count[0] > limits.max_nodes:
        raise ConfigError(f"{source}: more than {limits.max_nodes} nodes after alias expansion (alias bomb?)")
    if len(path) > limits.max_depth:
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: nesting deeper than {limits.max_depth} levels")
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
            _index_lines(value_node, (*path, key), lines, limits, source, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, limits, source, count)


def validate_document(document: Any, lines: LineIndex, source: str) -> AgentConfig:
    try:
        return AgentConfig.model_validate(document)
    except ValidationError as exc:
        errors = [format_error(err["loc"], err["msg"], lines, source) for err in exc.errors()]
        raise ConfigError(f"{source}: {len(errors)} error(s) in config", errors) from exc


def format_error(loc: tuple[str | int, ...], msg: str, lines: LineIndex, source: str) -> str:
    """One line: `file:line: dotted.field.path: message`, using the nearest known line."""
    path = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    line = None
    for cut in range(len(path), -1, -1):
        line = lines.get(path[:cut])
        if line is not None:
            break
    dotted = ".".join(str(p) for p in path) or "<root>"
    return f"{source}:{line if line is not None else 1}: {dotted}: {msg}"
