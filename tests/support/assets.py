"""Locates the shared real assets (models, videos). Missing assets fail under CI=true and skip elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def assets_dir() -> Path:
    return Path(os.environ.get("EDGE_AGENT_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


def require(path: Path) -> Path:
    """Return `path` if it exists; otherwise fail under CI, skip elsewhere, naming the file."""
    if path.exists():
        return path
    message = f"required test asset missing: {path} (set EDGE_AGENT_ASSETS or place ../shared/assets beside the repo)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def model(name: str) -> Path:
    return require(assets_dir() / "models" / name)


def video(name: str) -> Path:
    return require(assets_dir() / "videos" / name)


SSD_MODEL = "ssd_mobilenet_v1_coco_uint8_300.tflite"
SSD_LABELS = "ssd_mobilenet_v1_coco_uint8_300.labels.txt"
YOLO416_MODEL = "yolov8n_int8_416.tflite"
YOLO640_MODEL = "yolov8n_int8_640.tflite"
COCO80_LABELS = "coco80.labels.txt"
PEDESTRIANS = "pedestrians_vtest.avi"
TRAFFIC = "traffic_intersection_cctv_640x480.mp4"
