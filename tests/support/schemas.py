"""Validates payloads against the published JSON Schemas in docs/schemas (draft 2020-12).

`validate(name, obj)` takes the decoded payload: a dict for JSON messages, the text for
`status` and `switch`, an int for `count`. `validate_payload(name, raw)` decodes raw MQTT bytes first."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TEXT_SCHEMAS = frozenset({"status", "switch"})
INTEGER_SCHEMAS = frozenset({"count"})


def schema_names() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json"))


@cache
def _validator(name: str) -> Draft202012Validator:
    path = SCHEMA_DIR / f"{name}.schema.json"
    if not path.is_file():
        raise KeyError(f"no schema {name!r} in {SCHEMA_DIR} (have {', '.join(schema_names())})")
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema(name: str) -> dict[str, Any]:
    """The parsed docs/schemas/<name>.schema.json (checked to be a valid draft 2020-12 schema)."""
    parsed = _validator(name).schema
    assert not isinstance(parsed, bool), f"{name}: a schema file holds an object, not true/false"
    return dict(parsed)


def validate(name: str, payload_obj: Any) -> None:
    """Raise jsonschema.ValidationError if `payload_obj` does not match docs/schemas/<name>.schema.json."""
    _validator(name).validate(payload_obj)


def decode(name: str, raw: bytes) -> Any:
    text = raw.decode("utf-8")
    if name in TEXT_SCHEMAS:
        return text
    if name in INTEGER_SCHEMAS:
        if not text.isdigit():
            raise ValueError(f"count payload {text!r} is not a decimal integer")
        return int(text)
    return json.loads(text)


def validate_payload(name: str, raw: bytes) -> Any:
    """Decode raw MQTT payload bytes as schema `name` expects, validate, and return the decoded value."""
    obj = decode(name, raw)
    validate(name, obj)
    return obj
