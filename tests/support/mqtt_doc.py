"""docs/mqtt.md as data: its Topics table (topic pattern -> schema) and its JSON examples, each
with the schemas of the topics its section heading names, plus the key paths a payload has.

An example is a line of a ```json block (or the whole block); its section is the nearest `#`
heading above it, whose backticked topics (`<p>/<d>/…`, or `…/suffix` for a row ending so)
pick the schemas from the table. A real topic maps to the most specific table row it matches."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from tests.support.assets import REPO_ROOT
from tests.support.schemas import validate

MQTT_DOC = REPO_ROOT / "docs" / "mqtt.md"
FENCE = "```"
ELLIPSIS = "…/"
_PLACEHOLDER = re.compile(r"<[^>]+>")
_BACKTICKED = re.compile(r"`([^`]+)`")
_SCHEMA_LINK = re.compile(r"\(schemas/([\w-]+)\.schema\.json\)")


@dataclass(frozen=True)
class TopicRow:
    """One row of the Topics table: `<p>/<d>/<camera>/detections` -> `detections` (None: no schema)."""

    pattern: str
    schema: str | None

    def regex(self, prefix: str, device: str) -> re.Pattern[str]:
        parts = []
        for level in self.pattern.split("/"):
            if level == "<p>":
                parts.append(re.escape(prefix))
            elif level == "<d>":
                parts.append(re.escape(device))
            elif _PLACEHOLDER.fullmatch(level):
                parts.append("[^/]+")
            else:
                parts.append(re.escape(level))
        return re.compile("/".join(parts))

    @property
    def literal_levels(self) -> int:
        return sum(1 for level in self.pattern.split("/") if not _PLACEHOLDER.fullmatch(level))


@dataclass(frozen=True)
class DocExample:
    """One JSON example: where it is, the section it is in, and the schemas that section's topics name."""

    line: int
    heading: str
    payload: Any
    schemas: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"docs/mqtt.md:{self.line} (under {self.heading!r})"


def topic_rows(text: str) -> list[TopicRow]:
    """The rows of the table whose first cell is a backticked `<p>/…` topic."""
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or not cells[0].startswith("`<p>/"):
            continue
        link = _SCHEMA_LINK.search(cells[-1])
        rows.append(TopicRow(cells[0].strip("`"), link.group(1) if link else None))
    return rows


def heading_schemas(heading: str, rows: list[TopicRow]) -> tuple[str, ...]:
    """Schemas of the table rows the heading's backticked topics name, in the heading's order."""
    found: list[str] = []
    for topic in _BACKTICKED.findall(heading):
        if topic.startswith(ELLIPSIS):
            matches = [r for r in rows if r.pattern.endswith(topic.removeprefix("…"))]
        else:
            matches = [r for r in rows if r.pattern == topic]
        found += [r.schema for r in matches if r.schema is not None and r.schema not in found]
    return tuple(found)


def examples(text: str) -> list[DocExample]:
    """Every JSON example of the document, one per JSON value (a block may hold one per line)."""
    rows = topic_rows(text)
    found: list[DocExample] = []
    heading = ""
    block: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if block is not None:
            if line.strip() == FENCE:
                found += _block_examples(block, heading, heading_schemas(heading, rows))
                block = None
            else:
                block.append((number, line))
        elif line.strip() == FENCE + "json":
            block = []
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    return found


def _block_examples(block: list[tuple[int, str]], heading: str, schemas: tuple[str, ...]) -> list[DocExample]:
    whole = "\n".join(line for _, line in block)
    try:
        return [DocExample(block[0][0], heading, json.loads(whole), schemas)]
    except json.JSONDecodeError:
        pass  # one JSON value per line; a line that is not JSON fails below with its number
    out = []
    for number, line in block:
        if not line.strip():
            continue
        try:
            out.append(DocExample(number, heading, json.loads(line), schemas))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"docs/mqtt.md:{number}: example is not JSON: {exc}") from exc
    return out


def example_schema(example: DocExample) -> str:
    """The first of the example's section schemas it validates against; AssertionError naming each
    schema's complaint if none does."""
    assert example.schemas, f"{example.where}: the heading names no topic with a schema in the Topics table"
    problems = []
    for name in example.schemas:
        try:
            validate(name, example.payload)
        except jsonschema.ValidationError as exc:
            problems.append(f"{name}: {exc.message} at {'/'.join(map(str, exc.absolute_path)) or 'top level'}")
        else:
            return name
    raise AssertionError(f"{example.where}: matches none of its schemas: " + "; ".join(problems))


def schema_of_topic(rows: list[TopicRow], topic: str, prefix: str, device: str) -> str | None:
    """The schema of the most specific table row that `topic` matches (None: no row, or no schema)."""
    matching = [r for r in rows if r.regex(prefix, device).fullmatch(topic)]
    if not matching:
        return None
    return max(matching, key=lambda r: r.literal_levels).schema


def key_paths(value: Any, schema: dict[str, Any], path: str = "") -> frozenset[str]:
    """The field names a payload has, nested (`cameras.*.dropped`, `detections.[].label`).

    Maps whose keys are data (camera names, anomaly details) become `*`; their values are
    merged, and a map of plain values adds nothing: its keys differ from payload to payload."""
    out: set[str] = set()
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for key, item in value.items():
                out.add(path + key)
                out |= key_paths(item, properties.get(key, {}), f"{path}{key}.")
        elif isinstance(schema.get("additionalProperties"), dict):
            for item in value.values():
                out |= key_paths(item, schema["additionalProperties"], f"{path}*.")
    elif isinstance(value, list):
        items = schema.get("items", {})
        for item in value:
            out |= key_paths(item, items if isinstance(items, dict) else {}, f"{path}[].")
    return frozenset(out)
