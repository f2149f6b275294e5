"""Object detection: the Detector protocol the pipeline depends on, and its TFLite implementation.

Each detector thread owns one detector (model.interpreters). Tests of the pipeline use a scripted fake of `Detector`."""

from __future__ import annotations

from typing import Protocol

from agent.detect.detector import TFLiteDetector
from agent.detect.labels import load_labels
from agent.types import DetectionResult, Image

__all__ = ["Detector", "TFLiteDetector", "load_labels"]


class Detector(Protocol):
    """Finds objects in one BGR uint8 frame; boxes are in pixels of that frame."""

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input (width, height)."""
        ...

    def detect(self, image: Image, min_score: float | None = None) -> DetectionResult: ...
