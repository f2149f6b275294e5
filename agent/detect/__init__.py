"""Object detection: the Detector protocol the pipeline depends on, and its implementation on a
ModelRunner (TFLite for .tflite, ONNX Runtime for .onnx).

Each detector thread owns one detector (model.interpreters). Tests of the pipeline use a scripted fake of `Detector`."""

from __future__ import annotations

from typing import Any, Protocol

import numpy.typing as npt

from agent.detect.detector import InvokeOutput, ModelDetector
from agent.detect.labels import load_labels
from agent.types import DetectionResult, Image

__all__ = ["Detector", "InputBuffer", "InvokeOutput", "ModelDetector", "load_labels"]

InputBuffer = npt.NDArray[Any]


class Detector(Protocol):
    """Finds objects in one BGR uint8 image; boxes are in pixels of that image.

    `detect()` does it in one call. The pipeline uses the three steps instead, so that one thread
    prepares and decodes while another invokes: prepare() -> invoke_prepared() -> decode()."""

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input (width, height)."""
        ...

    def detect(self, image: Image, min_score: float | None = None) -> DetectionResult: ...

    def new_input_buffer(self) -> InputBuffer: ...

    def prepare(self, image: Image, buffer: InputBuffer) -> None: ...

    def invoke_prepared(self, buffer: InputBuffer) -> InvokeOutput: ...

    def decode(
        self, output: InvokeOutput, width: int, height: int, min_score: float | None = None
    ) -> DetectionResult: ...
