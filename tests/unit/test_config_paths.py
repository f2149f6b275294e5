"""Relative paths in a config file are resolved against the file's directory, not the cwd."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from agent.config.loader import load_config, load_config_text
from agent.config.paths import is_model_file_path, resolve_relative_paths
from agent.config.schema import AgentConfig
from tests.support import assets

CONFIG = """\
device_id: dev1
state_dir: ./state
model_dir: ../shared/models
mqtt:
  password_file: secrets/mqtt.pw
  tls:
    enabled: true
    ca_file: tls/ca.pem
    cert_file: /etc/abs/client.pem
    key_file: tls/client.key
model:
  path: models/custom.tflite
  labels: models/custom.labels.txt
cameras:
  file:
    source: videos/walk.avi
  updir:
    source: ../videos/walk.avi
  absolute:
    source: /srv/videos/walk.avi
  rtsp:
    source: rtsp://user:pw@10.0.0.5:554/stream
  v4l2:
    source: /dev/video0
  index:
    source: "1"
"""


def test_path_fields_resolve_against_config_dir(tmp_path: Path) -> None:
    """state_dir, model_dir, model files, password and TLS files become absolute beside the config."""
    base = tmp_path / "etc"
    base.mkdir()
    (base / "agent.yaml").write_text(CONFIG)
    cfg = load_config(base / "agent.yaml")
    assert cfg.state_dir == base / "state"
    assert cfg.model_dir == tmp_path / "shared" / "models"
    assert cfg.mqtt.password_file == base / "secrets" / "mqtt.pw"
    assert cfg.mqtt.tls.ca_file == base / "tls" / "ca.pem"
    assert cfg.mqtt.tls.cert_file == Path("/etc/abs/client.pem")
    assert cfg.mqtt.tls.key_file == base / "tls" / "client.key"
    assert cfg.model.path == str(base / "models" / "custom.tflite")
    assert cfg.model.labels == base / "models" / "custom.labels.txt"


def test_camera_sources(tmp_path: Path) -> None:
    """File sources are resolved; absolute paths, URLs, devices and indices are kept as written."""
    base = tmp_path / "etc"
    base.mkdir()
    (base / "agent.yaml").write_text(CONFIG)
    sources = {name: cam.source for name, cam in load_config(base / "agent.yaml").cameras.items()}
    assert sources == {
        "file": str(base / "videos" / "walk.avi"),
        "updir": str(tmp_path / "videos" / "walk.avi"),
        "absolute": "/srv/videos/walk.avi",
        "rtsp": "rtsp://user:pw@10.0.0.5:554/stream",
        "v4l2": "/dev/video0",
        "index": "1",
    }


def test_independent_of_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the same file from two working directories gives the same config (systemd has any cwd)."""
    (tmp_path / "agent.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    first = load_config(Path("agent.yaml"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    second = load_config(Path("../agent.yaml"))
    assert first == second
    assert first.state_dir == tmp_path / "state"


def test_catalogue_name_is_not_a_path() -> None:
    """A bare catalogue name stays a name; a .tflite or a path with / is a file."""
    cfg = load_config_text("device_id: d\nmodel: {path: yolov8n_int8_416}\ncameras: {c: {source: '0'}}\n")
    assert resolve_relative_paths(cfg, Path("/base")).model.path == "yolov8n_int8_416"
    assert is_model_file_path("x.tflite")
    assert is_model_file_path("sub/x")
    assert not is_model_file_path("yolov8n_int8_416")


def test_text_loading_keeps_paths_relative() -> None:
    """load_config_text has no file, so nothing is resolved; defaults stay as declared."""
    cfg = load_config_text("device_id: d\nmodel: {path: m}\ncameras: {c: {source: v.avi}}\n")
    assert cfg.state_dir == Path("state")
    assert cfg.cameras["c"].source == "v.avi"
    resolved = resolve_relative_paths(cfg, Path("/opt/agent/etc/../etc"))
    assert resolved.state_dir == Path("/opt/agent/etc/state")
    assert resolved.cameras["c"].source == "/opt/agent/etc/v.avi"
    assert resolved.model_dir is None


# --- the shipped config files --------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "agent.example.yaml"
DEMO = REPO / "config" / "demo.yaml"
KEY_LINE = re.compile(r"^\s*(- )?[A-Za-z0-9_ -]+:(\s|$)")


def sub_models(annotation: Any) -> list[tuple[bool, type[BaseModel]]]:
    """Models inside a field's type, each with whether it sits in a dict/list/tuple (a `*` level)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(False, annotation)]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict:
        return [(True, m) for _, m in sub_models(args[1])]
    if origin in (list, tuple):
        return [(True, m) for arg in args if arg is not Ellipsis for _, m in sub_models(arg)]
    return [found for arg in args for found in sub_models(arg)]


def schema_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        paths.add(prefix + name)
        for nested, sub in sub_models(field.annotation):
            paths |= schema_paths(sub, f"{prefix}{name}.{'*.' if nested else ''}")
    return paths


def document_paths(model: type[BaseModel], data: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in data.items():
        paths.add(prefix + key)
        field = model.model_fields.get(key)
        for nested, sub in sub_models(field.annotation if field else None):
            items = (value.values() if isinstance(value, dict) else value or []) if nested else [value]
            for item in items:
                if isinstance(item, dict):
                    paths |= document_paths(sub, item, f"{prefix}{key}.{'*.' if nested else ''}")
    return paths


def test_example_config_validates() -> None:
    """config/agent.example.yaml is a valid config."""
    cfg = load_config(EXAMPLE)
    assert cfg.device_id == "gate-01"


def test_example_config_shows_every_option() -> None:
    """Every field of the schema, at every depth, appears in config/agent.example.yaml."""
    data = yaml.safe_load(EXAMPLE.read_text())
    missing = schema_paths(AgentConfig) - document_paths(AgentConfig, data)
    assert not missing, f"add these options to {EXAMPLE.name}: {sorted(missing)}"


def test_example_config_comments_every_key() -> None:
    """Each key line of the example has a comment on it or on the line above."""
    lines = EXAMPLE.read_text().splitlines()
    uncommented = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(lines, start=1)
        if KEY_LINE.match(line) and "#" not in line and not lines[number - 2].strip().startswith("#")
    ]
    assert not uncommented


def test_demo_config() -> None:
    """config/demo.yaml: the SSD model from <repo>/state/models and the shared walkway video."""
    cfg = load_config(DEMO)
    assert cfg.device_id == "demo"
    assert (cfg.mqtt.host, cfg.mqtt.port) == ("127.0.0.1", 1883)
    assert cfg.model.path == "ssd_mobilenet_v1_coco_uint8_300"
    assert cfg.model_dir == REPO / "state" / "models"
    walkway = cfg.cameras["walkway"]
    assert Path(walkway.source) == REPO.parent / "shared" / "assets" / "videos" / assets.PEDESTRIANS
    assert (walkway.realtime, walkway.loop, walkway.detect_fps) == (True, False, 5.0)
    assert walkway.objects == ["person", "car", "bicycle"]


def test_demo_video_is_the_shared_asset() -> None:
    """The demo's relative video path reaches the real asset when ../shared/assets is beside the repo."""
    expected = assets.video(assets.PEDESTRIANS)
    assert Path(load_config(DEMO).cameras["walkway"].source).resolve() == expected.resolve()
