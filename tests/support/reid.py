"""Real person boxes and the real OSNet embedder for the re-id tests: YOLOv8n-416 (the agent's own
detector code) on frames of the walkway video, and the shared osnet_x0_25_msmt17.onnx."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import yaml

from agent.catalog.resolve import resolve_model
from agent.config.loader import load_config_text
from agent.detect import ModelDetector
from agent.reid import CropEmbedder, open_embedder
from agent.types import BBox, Image
from tests.support import assets

OSNET_MODEL = "osnet_x0_25_msmt17.onnx"


def osnet() -> CropEmbedder:
    return open_embedder(assets.model(OSNET_MODEL), threads=1)


def yolo_detector(min_score: float = 0.4) -> ModelDetector:
    doc = {
        "device_id": "reid",
        "model_dir": str(assets.assets_dir() / "models"),
        "model": {"path": "yolov8n_int8_416", "min_score": min_score},
        "cameras": {"c": {"source": str(assets.video(assets.PEDESTRIANS))}},
    }
    cfg = load_config_text(yaml.safe_dump(doc))
    resolved = resolve_model(cfg)
    return ModelDetector(resolved.model_path, resolved.labels_path, cfg.model)


def walkway_frames(indexes: set[int]) -> dict[int, Image]:
    """The walkway's frames at these 0-based indexes, decoded by OpenCV."""
    cap = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    out: dict[int, Image] = {}
    i = 0
    while len(out) < len(indexes):
        ok, image = cap.read()
        if not ok:
            break
        if i in indexes:
            out[i] = cast("Image", image)  # 8-bit BGR, as decoded
        i += 1
    cap.release()
    return out


def person_boxes(detector: ModelDetector, image: Image) -> list[BBox]:
    return [d.box for d in detector.detect(image).detections if d.label == "person"]


def model_dir() -> Path:
    return assets.assets_dir() / "models"
