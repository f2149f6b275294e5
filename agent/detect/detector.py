"""ModelDetector: loads a detection model once (.tflite on TFLite, .onnx on ONNX Runtime, through a
ModelRunner), validates its tensors and labels, and turns BGR frames into DetectionResults with boxes
in pixels of the analysed frame. Built at start-up; afterwards it belongs to one detector thread alone
(not thread-safe; the runtimes release the GIL while they run).

Two ways to run it: `detect()` in one call, or in three steps so that preparing the next input and
decoding the last output can overlap the run on another thread: `prepare()` into a buffer from
`new_input_buffer()`, `invoke_prepared()` (the only step that touches the runtime), then `decode()`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.catalog.resolve import CatalogEntry
from agent.config.schema import ModelConfig, ModelKind
from agent.detect.adapters import Candidates, OutputAdapter
from agent.detect.labels import load_labels, reportable_mask
from agent.detect.layouts import CONVENTIONS, build_adapter, resolve_kind
from agent.detect.letterbox import input_to_frame, place
from agent.detect.preprocess import RGB_CHANNELS, SUPPORTED_DTYPES, FloatRange, InputSpec, InputWriter
from agent.detect.runner import ModelRunner, TensorInfo, open_runner
from agent.errors import ModelError
from agent.types import BBox, Detection, DetectionResult, Image

log = logging.getLogger(__name__)

MS_PER_S = 1000.0
INPUT_RANK = 4


@dataclass(frozen=True, slots=True)
class InvokeOutput:
    """Copies of a model's output tensors after one invoke (by tensor index), and how long it took."""

    tensors: dict[int, npt.NDArray[Any]]
    inference_ms: float


def image_input(inputs: tuple[TensorInfo, ...], model_path: Path) -> tuple[TensorInfo, bool]:
    """The model's one image input and whether it is channels first ([1,3,H,W]) rather than [1,H,W,3]."""
    expected = "one image input [1,H,W,3] or [1,3,H,W]"
    if len(inputs) != 1:
        raise ModelError(f"model {model_path} has {len(inputs)} inputs; expected {expected}")
    tensor = inputs[0]
    shape = tensor.shape
    if len(shape) != INPUT_RANK or shape[0] != 1 or RGB_CHANNELS not in (shape[1], shape[3]):
        raise ModelError(f"model {model_path} input {tensor.name!r} has shape {list(shape)}; expected {expected}")
    if tensor.dtype not in SUPPORTED_DTYPES:
        supported = "/".join(str(d) for d in SUPPORTED_DTYPES)
        raise ModelError(f"model {model_path} input {tensor.name!r} is {tensor.dtype}; expected {supported}")
    if tensor.dtype == np.int8 and tensor.scale <= 0.0:
        raise ModelError(f"model {model_path} input {tensor.name!r} is int8 without quantization parameters")
    return tensor, shape[3] != RGB_CHANNELS


def input_spec(
    tensor: TensorInfo, channels_first: bool, kind: ModelKind, entry: CatalogEntry | None, model_path: Path
) -> InputSpec:
    """The input's encoding: the family's convention (layouts.CONVENTIONS), overridden by the catalogue."""
    convention = CONVENTIONS[kind]
    if entry is not None and entry.input_order is not None and (entry.input_order == "nchw") != channels_first:
        raise ModelError(
            f"model {model_path} input has shape {list(tensor.shape)} but its catalogue entry {entry.name!r} "
            f"says input_order {entry.input_order}"
        )
    bgr, float_range, letterbox = convention.bgr, convention.float_range, convention.letterbox
    if entry is not None:
        bgr = bgr if entry.color is None else entry.color == "bgr"
        float_range = float_range if entry.scale is None else FloatRange(entry.scale)
        letterbox = letterbox if entry.letterbox is None else entry.letterbox
    height, width = tensor.shape[2:4] if channels_first else tensor.shape[1:3]
    return InputSpec(
        width, height, tensor.dtype, tensor.scale, tensor.zero_point, float_range, channels_first, bgr, letterbox
    )


class ModelDetector:
    """One detection model with its labels; `detect()` runs it on a BGR uint8 frame.

    `entry` is the model's catalogue entry, when it has one: its kind stands in for model.kind auto, and
    its input fields override the family's pixel convention."""

    def __init__(
        self,
        model_path: Path,
        labels_path: Path,
        cfg: ModelConfig,
        edgetpu_device: str | None = None,
        entry: CatalogEntry | None = None,
    ) -> None:
        self._cfg = cfg
        self._runner: ModelRunner = open_runner(model_path, cfg.threads, cfg.delegate, edgetpu_device)
        self.runtime_name: str = self._runner.runtime_name
        self.runtime_version: str = self._runner.runtime_version
        tensor, channels_first = image_input(self._runner.inputs, model_path)
        self.labels: tuple[str, ...] = load_labels(labels_path)
        size = (tensor.shape[3], tensor.shape[2]) if channels_first else (tensor.shape[2], tensor.shape[1])
        requested = cfg.kind if cfg.kind is not ModelKind.AUTO or entry is None else ModelKind(entry.kind.value)
        self.kind: ModelKind = resolve_kind(self._runner.outputs, requested, size, len(self.labels))
        spec = input_spec(tensor, channels_first, self.kind, entry, model_path)
        self._spec = spec
        self.input_size: tuple[int, int] = (spec.width, spec.height)
        self._output_indices = tuple(o.index for o in self._runner.outputs)
        self._writer = InputWriter(spec)
        self._detect_buffer = self.new_input_buffer()
        self._adapter = self._build_adapter(model_path)
        self._check_label_count(labels_path, model_path)
        log.info(
            "loaded %s model %s (%dx%d %s %s input%s) with %s %s, %d threads, delegate %s",
            self.kind.value,
            model_path,
            spec.width,
            spec.height,
            spec.dtype,
            "BGR" if spec.bgr else "RGB",
            ", letterboxed" if spec.letterbox else "",
            self.runtime_name,
            self.runtime_version,
            cfg.threads,
            cfg.delegate.value,
        )

    def _build_adapter(self, model_path: Path) -> OutputAdapter:
        try:
            return build_adapter(self.kind, self._runner, self.input_size, reportable_mask(self.labels), self._cfg)
        except ModelError as exc:
            raise ModelError(f"model {model_path} (kind {self.kind.value}): {exc}") from exc

    def _check_label_count(self, labels_path: Path, model_path: Path) -> None:
        classes = self._adapter.num_classes
        if classes is not None and len(self.labels) < classes:
            raise ModelError(
                f"label file {labels_path} has {len(self.labels)} labels but model {model_path} can emit "
                f"{classes} classes; use the label file made for this model (one label per line, line i = class i)"
            )

    def invoke_only(self) -> float:
        """Run the model once more on the input of the last run; return the time in ms (the bare invoke)."""
        start = time.perf_counter()
        self._runner.run_again()
        return (time.perf_counter() - start) * MS_PER_S

    def detect(self, image: Image, min_score: float | None = None) -> DetectionResult:
        """Detect objects in `image` (BGR uint8 HxWx3); `min_score` None means the model config's."""
        self.prepare(image, self._detect_buffer)
        height, width = image.shape[:2]
        return self.decode(self.invoke_prepared(self._detect_buffer), width, height, min_score)

    def new_input_buffer(self) -> npt.NDArray[Any]:
        """A buffer shaped and typed like the input tensor, for prepare() and invoke_prepared()."""
        return np.zeros(self._spec.shape, dtype=self._spec.dtype)

    def prepare(self, image: Image, buffer: npt.NDArray[Any]) -> None:
        """Resize and encode `image` (BGR uint8 HxWx3) into `buffer`; does not touch the runtime."""
        self._writer.write(image, buffer)

    def invoke_prepared(self, buffer: npt.NDArray[Any]) -> InvokeOutput:
        """Run the model on a prepared input; the outputs are copies (valid after later runs)."""
        start = time.perf_counter()
        outputs = self._runner.run((buffer,))
        inference_ms = (time.perf_counter() - start) * MS_PER_S
        return InvokeOutput(dict(zip(self._output_indices, outputs, strict=True)), inference_ms)

    def decode(self, output: InvokeOutput, width: int, height: int, min_score: float | None = None) -> DetectionResult:
        """Detections from one invoke_prepared() output, in pixels of the `width` x `height` image prepared."""
        threshold = self._cfg.min_score if min_score is None else min_score
        candidates = self._adapter.decode(output.tensors.__getitem__, threshold)
        return DetectionResult(self._to_detections(candidates, width, height), output.inference_ms)

    def _to_detections(self, candidates: Candidates, width: int, height: int) -> tuple[Detection, ...]:
        """Map normalised input boxes to the frame (through the letterbox, if any), clip them to it and
        drop boxes left with no area."""
        placement = place(width, height, self._spec.width, self._spec.height, self._spec.letterbox)
        scaled = input_to_frame(candidates.boxes, placement, self.input_size, (width, height))
        detections = []
        for box, score, class_id in zip(
            scaled.tolist(), candidates.scores.tolist(), candidates.class_ids.tolist(), strict=True
        ):
            bbox = BBox(*box).clipped(width, height)
            if bbox.area > 0.0:
                detections.append(Detection(self.labels[class_id], class_id, float(score), bbox))
        return tuple(detections)
