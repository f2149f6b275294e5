"""TFLiteDetector: loads a TFLite model once, validates its tensors and labels, and turns BGR frames
into DetectionResults with boxes in pixels of the analysed frame. Built at start-up; afterwards it
belongs to one detector thread alone (not thread-safe; invoke() releases the GIL).

Two ways to run it: `detect()` in one call (resize straight into the input tensor, invoke, decode),
or in three steps so that preparing the next input and decoding the last output can overlap the
invoke on another thread: `prepare()` into a buffer from `new_input_buffer()`, `invoke_prepared()`
(the only step that touches the interpreter), then `decode()`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.config.schema import ModelConfig, ModelKind
from agent.detect.adapters import (
    Candidates,
    OutputAdapter,
    ReadTensor,
    SsdAdapter,
    YoloAdapter,
    resolve_kind,
    resolve_ssd_layout,
    resolve_yolo_layout,
    ssd_class_count,
)
from agent.detect.labels import load_labels, reportable_mask
from agent.detect.preprocess import SUPPORTED_DTYPES, FloatRange, InputSpec, InputWriter
from agent.detect.runtime import Interpreter, TensorInfo, open_interpreter, select_runtime, tensor_infos
from agent.errors import ModelError
from agent.types import BBox, Detection, DetectionResult, Image

log = logging.getLogger(__name__)

MS_PER_S = 1000.0
INPUT_RANK = 4
RGB_CHANNELS = 3


@dataclass(frozen=True, slots=True)
class InvokeOutput:
    """Copies of a model's output tensors after one invoke (by tensor index), and how long it took."""

    tensors: dict[int, npt.NDArray[Any]]
    inference_ms: float


def input_spec(inputs: tuple[TensorInfo, ...], kind: ModelKind, model_path: Path) -> InputSpec:
    """Check that the model takes one [1,H,W,3] uint8/int8/float32 image and describe it."""
    if len(inputs) != 1:
        raise ModelError(f"model {model_path} has {len(inputs)} inputs; expected one image input [1,H,W,3]")
    tensor = inputs[0]
    shape = tensor.shape
    if len(shape) != INPUT_RANK or shape[0] != 1 or shape[3] != RGB_CHANNELS or min(shape[1:3]) < 1:
        raise ModelError(f"model {model_path} input {tensor.name!r} has shape {list(shape)}; expected [1,H,W,3]")
    if tensor.dtype not in SUPPORTED_DTYPES:
        supported = "/".join(str(d) for d in SUPPORTED_DTYPES)
        raise ModelError(f"model {model_path} input {tensor.name!r} is {tensor.dtype}; expected {supported}")
    if tensor.dtype == np.int8 and tensor.scale <= 0.0:
        raise ModelError(f"model {model_path} input {tensor.name!r} is int8 without quantization parameters")
    float_range = FloatRange.UNIT if kind is ModelKind.YOLO else FloatRange.SYMMETRIC
    return InputSpec(shape[2], shape[1], tensor.dtype, tensor.scale, tensor.zero_point, float_range)


class TFLiteDetector:
    """One TFLite model with its labels; `detect()` runs it on a BGR uint8 frame."""

    def __init__(
        self, model_path: Path, labels_path: Path, cfg: ModelConfig, edgetpu_device: str | None = None
    ) -> None:
        runtime = select_runtime()
        self.runtime_name: str = runtime.name
        self.runtime_version: str = runtime.version
        self._cfg = cfg
        self._interpreter: Interpreter = open_interpreter(
            runtime, model_path, cfg.threads, cfg.delegate, edgetpu_device
        )
        outputs = tensor_infos(self._interpreter.get_output_details())
        self.kind: ModelKind = resolve_kind(outputs, cfg.kind)
        inputs = tensor_infos(self._interpreter.get_input_details())
        spec = input_spec(inputs, self.kind, model_path)
        self._input_index = inputs[0].index
        self._input_shape = (1, spec.height, spec.width, RGB_CHANNELS)
        self._input_dtype = spec.dtype
        self._output_indices = tuple(o.index for o in outputs)
        self.input_size: tuple[int, int] = (spec.width, spec.height)
        self._writer = InputWriter(spec)
        self.labels: tuple[str, ...] = load_labels(labels_path)
        self._adapter = self._build_adapter(outputs, model_path)
        self._check_label_count(labels_path, model_path)
        log.info(
            "loaded %s model %s (%dx%d %s input) with %s %s, %d threads, delegate %s",
            self.kind.value,
            model_path,
            spec.width,
            spec.height,
            spec.dtype,
            runtime.name,
            runtime.version,
            cfg.threads,
            cfg.delegate.value,
        )

    def _build_adapter(self, outputs: tuple[TensorInfo, ...], model_path: Path) -> OutputAdapter:
        reportable = reportable_mask(self.labels)
        try:
            if self.kind is ModelKind.SSD:
                layout = resolve_ssd_layout(outputs)
                all_tensors = tensor_infos(self._interpreter.get_tensor_details())
                num_boxes = next(o.shape[1] for o in outputs if o.index == layout.boxes)
                classes = ssd_class_count(all_tensors, num_boxes)
                return SsdAdapter(layout, classes, reportable, self._cfg.max_detections)
            yolo = resolve_yolo_layout(outputs)
            return YoloAdapter(yolo, self.input_size, reportable, self._cfg.nms_iou, self._cfg.max_detections)
        except ModelError as exc:
            raise ModelError(f"model {model_path} (model.kind {self._cfg.kind.value}): {exc}") from exc

    def _check_label_count(self, labels_path: Path, model_path: Path) -> None:
        classes = self._adapter.num_classes
        if classes is not None and len(self.labels) < classes:
            raise ModelError(
                f"label file {labels_path} has {len(self.labels)} labels but model {model_path} can emit "
                f"{classes} classes; use the label file made for this model (one label per line, line i = class i)"
            )

    def invoke_only(self) -> float:
        """Run the interpreter once on whatever input is set; return the invoke time in ms."""
        start = time.perf_counter()
        self._interpreter.invoke()
        return (time.perf_counter() - start) * MS_PER_S

    def detect(self, image: Image, min_score: float | None = None) -> DetectionResult:
        """Detect objects in `image` (BGR uint8 HxWx3); `min_score` None means the model config's."""
        # The tensor view is re-fetched every frame and dropped before invoke(): the runtime refuses to
        # invoke while a view of its buffers is alive.
        self._writer.write(image, self._interpreter.tensor(self._input_index)())
        inference_ms = self.invoke_only()
        height, width = image.shape[:2]
        return self._result(self._interpreter.get_tensor, width, height, min_score, inference_ms)

    def new_input_buffer(self) -> npt.NDArray[Any]:
        """A buffer shaped and typed like the input tensor, for prepare() and invoke_prepared()."""
        return np.zeros(self._input_shape, dtype=self._input_dtype)

    def prepare(self, image: Image, buffer: npt.NDArray[Any]) -> None:
        """Resize and encode `image` (BGR uint8 HxWx3) into `buffer`; does not touch the interpreter."""
        self._writer.write(image, buffer)

    def invoke_prepared(self, buffer: npt.NDArray[Any]) -> InvokeOutput:
        """Copy a prepared input into the interpreter, invoke, and copy the outputs out."""
        np.copyto(self._interpreter.tensor(self._input_index)(), buffer)
        inference_ms = self.invoke_only()
        tensors = {index: self._interpreter.get_tensor(index) for index in self._output_indices}
        return InvokeOutput(tensors, inference_ms)

    def decode(self, output: InvokeOutput, width: int, height: int, min_score: float | None = None) -> DetectionResult:
        """Detections from one invoke_prepared() output, in pixels of the `width` x `height` image prepared."""
        return self._result(output.tensors.__getitem__, width, height, min_score, output.inference_ms)

    def _result(
        self, read: ReadTensor, width: int, height: int, min_score: float | None, inference_ms: float
    ) -> DetectionResult:
        threshold = self._cfg.min_score if min_score is None else min_score
        candidates = self._adapter.decode(read, threshold)
        return DetectionResult(self._to_detections(candidates, width, height), inference_ms)

    def _to_detections(self, candidates: Candidates, width: int, height: int) -> tuple[Detection, ...]:
        """Scale normalised boxes to the frame, clip them to it and drop boxes left with no area."""
        scaled = candidates.boxes * np.array([width, height, width, height], dtype=np.float32)
        detections = []
        for box, score, class_id in zip(
            scaled.tolist(), candidates.scores.tolist(), candidates.class_ids.tolist(), strict=True
        ):
            bbox = BBox(*box).clipped(width, height)
            if bbox.area > 0.0:
                detections.append(Detection(self.labels[class_id], class_id, float(score), bbox))
        return tuple(detections)
