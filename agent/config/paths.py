"""Resolves relative paths in a validated config against the config file's directory.

Why: systemd (and cron, containers) start the agent with an arbitrary working
directory, so `state_dir: ./state` must mean "beside the config file", not "wherever
the process happened to start". Called by the loader on the main thread; pure (no I/O).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from agent.config.schema import AgentConfig, CameraConfig, ModelConfig
from agent.config.sources import classify_source

ModelT = TypeVar("ModelT", bound=BaseModel)

MODEL_SUFFIXES = (".tflite", ".onnx")


def resolve_relative_paths(cfg: AgentConfig, base_dir: Path) -> AgentConfig:
    """Return `cfg` with every relative file path made absolute against `base_dir`.

    Covers every `Path` field of every sub-model (state_dir, model_dir, model.labels,
    mqtt.password_file, TLS files, and any Path field added later), plus the two string
    fields that may hold paths: model.path (when it contains / or ends with .tflite or .onnx;
    otherwise it is a catalogue name) and camera sources that agent.config.sources classifies
    as files (a file:// URL is absolute already)."""
    base = Path(os.path.normpath(base_dir.absolute()))
    resolved = _resolve_model_paths(cfg, base)
    model = _resolve_model_config(resolved.model, base)
    cameras = {name: _resolve_camera(camera, base) for name, camera in resolved.cameras.items()}
    return resolved.model_copy(update={"model": model, "cameras": cameras})


def is_model_file_path(text: str) -> bool:
    """True when ModelConfig.path names a file rather than a catalogue entry."""
    return "/" in text or text.endswith(MODEL_SUFFIXES)


def _join(base: Path, path: Path) -> Path:
    return path if path.is_absolute() else Path(os.path.normpath(base / path))


def _resolve_model_config(model: ModelConfig, base: Path) -> ModelConfig:
    if not is_model_file_path(model.path):
        return model
    return model.model_copy(update={"path": str(_join(base, Path(model.path)))})


def _resolve_camera(camera: CameraConfig, base: Path) -> CameraConfig:
    path = classify_source(camera.source).file_path
    if path is None or path.is_absolute():
        return camera
    return camera.model_copy(update={"source": str(_join(base, path))})


def _resolve_model_paths(model: ModelT, base: Path) -> ModelT:
    """Recursively resolve Path-typed fields of `model` and of the models it contains."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        new = _resolve_value(value, base)
        if new is not value:
            update[name] = new
    return model.model_copy(update=update) if update else model


def _resolve_value(value: Any, base: Path) -> Any:
    if isinstance(value, Path):
        return _join(base, value)
    if isinstance(value, BaseModel):
        return _resolve_model_paths(value, base)
    if isinstance(value, dict):
        items = {key: _resolve_value(item, base) for key, item in value.items()}
        changed = any(items[key] is not value[key] for key in value)
        return items if changed else value
    if isinstance(value, list | tuple):
        resolved = [_resolve_value(item, base) for item in value]
        if all(new is old for new, old in zip(resolved, value, strict=True)):
            return value
        return type(value)(resolved) if isinstance(value, tuple) else resolved
    return value


__all__ = ["is_model_file_path", "resolve_relative_paths"]
