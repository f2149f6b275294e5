"""Reads YAML configuration safely and validates it, mapping every error to its line.

Parsing uses yaml.SafeLoader only, with limits on size, nesting depth and node
count (aliases are counted each time they are expanded, which stops billion-laughs
documents before anything is built). Called by the CLI and the supervisor."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from agent.config.paths import resolve_relative_paths
from agent.config.schema import AgentConfig
from agent.config.suggest import did_you_mean, field_names_at
from agent.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_bytes: int = 256 * 1024
    max_depth: int = 32
    max_nodes: int = 50_000


LineIndex = dict[tuple[str | int, ...], int]
PostCheck = Callable[[AgentConfig, LineIndex, str], None]


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader whose bad tagged scalars (`!!int x`, `2001-13-45`, `!!bool 1`) raise a located
    YAML error: PyYAML's SafeConstructor raises plain ValueError/KeyError/IndexError/AttributeError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, LookupError, AttributeError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid {node.tag.rsplit(':', 1)[-1]} value {repr(node.value)[:60]}", node.start_mark
            ) from exc


def load_config(path: Path, limits: ParseLimits = ParseLimits(), check: PostCheck | None = None) -> AgentConfig:
    """Read and validate a config file; raise ConfigError naming the file, field and line.

    Relative paths inside the file are resolved against the file's directory (see agent.config.paths).
    `check` (agent.config.checks.raise_findings) then runs the checks that look at the disk."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    document, lines = parse_yaml(data, str(path), limits)
    config = resolve_relative_paths(validate_document(document, lines, str(path)), path.parent)
    if check is not None:
        check(config, lines, str(path))
    return config


def load_config_text(text: bytes | str, source: str = "<config>", limits: ParseLimits = ParseLimits()) -> AgentConfig:
    """Validate a YAML (or JSON) document; raise ConfigError with one line per problem."""
    document, lines = parse_yaml(text, source, limits)
    return validate_document(document, lines, source)


def parse_yaml(text: bytes | str, source: str, limits: ParseLimits) -> tuple[Any, LineIndex]:
    """Parse one YAML document into plain data plus a map from field path to 1-based line."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > limits.max_bytes:
        line = raw[: limits.max_bytes].count(b"\n") + 1
        raise ConfigError(f"{source}:{line}: document is {len(raw)} bytes; the limit is {limits.max_bytes}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{source}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from exc
    try:
        loader = _SafeLoader(decoded)
    except yaml.reader.ReaderError as exc:  # the reader checks for control characters up front
        line = decoded[: exc.position].count("\n") + 1
        raise ConfigError(f"{source}:{line}: invalid YAML: {exc.reason} (character U+{exc.character:04X})") from exc
    lines: LineIndex = {}
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(f"{source}:1: the document is empty")
        _index_lines(node, (), lines, limits, source, [0])
        document = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_describe_yaml_error(exc, lines, source)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}:1: invalid YAML: {exc}") from exc
    except RecursionError as exc:  # the composer recurses once per nesting level
        raise ConfigError(f"{source}:{loader.line + 1}: nesting deeper than {limits.max_depth} levels") from exc
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: the top level must be a mapping, got {kind}")
    return document, lines


def _describe_yaml_error(exc: yaml.MarkedYAMLError, lines: LineIndex, source: str) -> str:
    """`file:line: [field: ]invalid YAML: problem`; the field is known once the document is composed."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    on_line = [path for path, at in lines.items() if at == line and path and isinstance(path[-1], str)]
    field = ".".join(str(p) for p in max(on_line, key=len)) + ": " if on_line else ""
    return f"{source}:{line}: {field}invalid YAML: {exc.problem or exc.context}"


def _index_lines(
    node: yaml.Node, path: tuple[str | int, ...], lines: LineIndex, limits: ParseLimits, source: str, count: list[int]
) -> None:
    count[0] += 1
    line = node.start_mark.line + 1
    if count[0] > limits.max_nodes:
        # An aliased node carries its anchor's line, so blame the nearest key on the path instead.
        key_path = next((path[:cut] for cut in range(len(path), 0, -1) if isinstance(path[cut - 1], str)), ())
        where = f"{lines.get(key_path, line)}: {'.'.join(map(str, key_path)) or '<root>'}"
        raise ConfigError(
            f"{source}:{where}: more than {limits.max_nodes} YAML nodes, counting every alias expansion (alias bomb?)"
        )
    if len(path) > limits.max_depth:
        raise ConfigError(f"{source}:{line}: nesting deeper than {limits.max_depth} levels")
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark.line)
            if key in seen and key != "<<":
                dotted = ".".join(str(p) for p in (*path, key))
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: {dotted}: duplicate key")
            seen.add(key)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
            _index_lines(value_node, (*path, key), lines, limits, source, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, limits, source, count)


def validate_document(document: Any, lines: LineIndex, source: str) -> AgentConfig:
    try:
        return AgentConfig.model_validate(document)
    except ValidationError as exc:
        located = [_locate(err["loc"], _with_hint(err), lines) for err in exc.errors()]
        located.sort(key=lambda item: item[0])  # stable: pydantic's order within a line
        errors = [f"{source}:{line}: {dotted}: {msg}" for line, dotted, msg in located]
        raise ConfigError(f"{source}: {len(errors)} error(s) in config", errors) from exc


def _with_hint(err: ErrorDetails) -> str:
    """pydantic's message, plus "did you mean" for an unknown key close to a field of its section."""
    if err["type"] != "extra_forbidden" or not err["loc"]:
        return err["msg"]
    return err["msg"] + did_you_mean(str(err["loc"][-1]), field_names_at(AgentConfig, err["loc"]))


def format_error(loc: tuple[str | int, ...], msg: str, lines: LineIndex, source: str) -> str:
    """One line: `file:line: dotted.field.path: message`, using the nearest known line."""
    line, dotted, text = _locate(loc, msg, lines)
    return f"{source}:{line}: {dotted}: {text}"


def _locate(loc: tuple[str | int, ...], msg: str, lines: LineIndex) -> tuple[int, str, str]:
    """Line, dotted path and message of one pydantic error.

    A model_validator error sits on the whole sub-model; when its message names keys of
    that mapping (cert_file, reconnect_max_s), the line of the last one named is used."""
    path = tuple(p if isinstance(p, int) else str(p) for p in loc)
    dotted = ".".join(str(p) for p in path) or "<root>"
    text = msg.removeprefix("Value error, ")
    line = 1
    for cut in range(len(path), -1, -1):
        found = lines.get(path[:cut], lines.get(tuple(str(p) for p in path[:cut])))
        if found is not None:
            line = found
            break
    if text != msg:
        named = [at for key, at in _child_lines(path, lines) if re.search(rf"\b{re.escape(key)}\b", text)]
        line = max(named, default=line)
    return line, dotted, text


def _child_lines(path: tuple[str | int, ...], lines: LineIndex) -> list[tuple[str, int]]:
    return [(str(key[-1]), at) for key, at in lines.items() if len(key) == len(path) + 1 and key[:-1] == path]
