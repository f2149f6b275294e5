"""Fuzz: any payload on config/set or config/patch gives a config or a list of issues, never an exception.

Random YAML structures (biased towards real field names), random bytes, random text and
random merge patches of a valid config go through agent.remote.document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config.loader import load_config_text
from agent.config.paths import resolve_relative_paths
from agent.remote.document import RemotePolicy, RemoteResult, config_version, parse_patch, parse_set, redact

BASE_DIR = Path("/srv/agent")
CONFIG = """\
device_id: dev1
state_dir: ./state
model:
  path: ssd-mobilenet
cameras:
  front:
    source: /dev/video0
    zones:
      door:
        points: [[0, 0], [100, 0], [100, 50]]
"""
RUNNING = resolve_relative_paths(load_config_text(CONFIG), BASE_DIR)
POLICY = RemotePolicy.for_running(BASE_DIR / "agent.yaml", RUNNING)

FIELD_NAMES = [
    "device_id", "state_dir", "model_dir", "log_level", "mqtt", "outbox", "model", "cameras", "groups", "request_id",
    "path", "labels", "source", "detect_fps", "zones", "points", "lines", "masks", "filters", "tracker", "events",
    "host", "port", "password", "password_file", "tls", "ca_file", "min_score", "enabled", "front", "objects",
]  # fmt: skip
YAML_TOKENS = [*"ab1: -[]{},&*!|>'\"#\n\t?%@`.", "!!int ", "!!binary ", "!!timestamp ", "<<: ", "\x00", "\ufeff"]
EXAMPLES = {"structures": 300, "bytes": 300, "text": 300, "patches": 300}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["/dev/video0", "../../etc/shadow", "rtsp://u:p@h/s", "1", "cpu", "ssd", "INFO", "***"]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10))
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
documents = st.dictionaries(keys, structures, max_size=8)


def _check(result: RemoteResult) -> None:
    assert isinstance(result, RemoteResult)
    assert (result.config is None) == bool(result.errors)
    for issue in result.errors:
        assert isinstance(issue.loc, str)
        assert isinstance(issue.msg, str)
        assert issue.msg
    if result.config is not None:
        assert len(config_version(result.config)) == 64
        redact(result.config)


def _dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True).encode("utf-8")


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@settings(FUZZ, max_examples=EXAMPLES["structures"])
@given(document=documents)
def test_random_structures_as_set(document: dict[Any, Any]) -> None:
    """Random nested mappings, lists and scalars dumped to YAML never raise from parse_set."""
    _check(parse_set(_dump(document), RUNNING, POLICY))


@settings(FUZZ, max_examples=EXAMPLES["bytes"])
@given(payload=st.binary(max_size=512))
def test_random_bytes(payload: bytes) -> None:
    """Arbitrary bytes on config/set and config/patch never raise."""
    _check(parse_set(payload, RUNNING, POLICY))
    _check(parse_patch(payload, RUNNING, POLICY))


@settings(FUZZ, max_examples=EXAMPLES["text"])
@given(text=st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join))
def test_random_yaml_punctuation(text: str) -> None:
    """Text made of YAML's syntax characters and tags never raises."""
    _check(parse_set(text.encode(), RUNNING, POLICY))


@settings(FUZZ, max_examples=EXAMPLES["patches"])
@given(patch=st.dictionaries(keys, structures, max_size=4), nested=st.sampled_from(["", "cameras", "front", "mqtt"]))
def test_random_merge_patches_of_valid_config(patch: dict[Any, Any], nested: str) -> None:
    """Random merge patches (also nested under real sections) of a valid config never raise."""
    if nested == "front":
        patch = {"cameras": {"front": patch}}
    elif nested:
        patch = {nested: patch}
    _check(parse_patch(json.dumps(patch, default=str).encode(), RUNNING, POLICY))
