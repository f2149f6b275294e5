"""Turns a model's raw output tensors into scored, normalised boxes: the adapters of the SSD
(TFLite_Detection_PostProcess) and raw YOLOv8/YOLO11 head layouts, and what every adapter shares (the
per-class NMS, dequantization, label filtering). yolox.py and end_to_end.py hold the other layouts;
layouts.py chooses one at load. Called by its detector thread after each invoke."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from agent.detect.runner import TensorInfo
from agent.errors import ModelError
from agent.geometry import nms

ReadTensor = Callable[[int], npt.NDArray[Any]]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

BOX_COORDS = 4
PIXEL_COORDS_ABOVE = 2.0  # YOLO box values above this are taken as input pixels, not 0-1
POSTPROCESS_OP = "TFLite_Detection_PostProcess"
SSD_LAYOUT = "4 outputs: boxes [1,N,4], classes [1,N], scores [1,N], count [1] (any order)"
YOLO_LAYOUT = "1 output [1,4+C,N] or [1,N,4+C]"


@dataclass(frozen=True, slots=True)
class Candidates:
    """Decoded detections before labelling: boxes xyxy normalised to the input, best score first."""

    boxes: FloatArray  # (K, 4)
    scores: FloatArray  # (K,)
    class_ids: IntArray  # (K,)


class OutputAdapter(Protocol):
    """Decodes the output tensors after one invoke; keeps only classes allowed by `reportable`."""

    num_classes: int | None  # classes the model can emit (a lower bound for SSD); None when unknown

    def decode(self, read: ReadTensor, min_score: float) -> Candidates: ...


def dequantize(values: npt.NDArray[Any], scale: float, zero_point: int) -> FloatArray:
    """Real values of a quantized tensor slice; float tensors (scale 0) pass through as float32."""
    as_float = values.astype(np.float32)
    if scale == 0.0:
        return as_float
    return (as_float - np.float32(zero_point)) * np.float32(scale)


def subset(candidates: Candidates, keep: npt.NDArray[Any]) -> Candidates:
    """The candidates at `keep` (indices or a boolean mask), in that order."""
    return Candidates(candidates.boxes[keep], candidates.scores[keep], candidates.class_ids[keep])


def keep_reportable(candidates: Candidates, reportable: npt.NDArray[np.bool_]) -> Candidates:
    """Drop candidates whose class id has no reportable label (placeholder, empty or beyond the labels)."""
    ids = candidates.class_ids
    in_range = (ids >= 0) & (ids < reportable.size)
    allowed = np.zeros(ids.shape, dtype=np.bool_)
    allowed[in_range] = reportable[ids[in_range]]
    return subset(candidates, allowed)


# --- SSD -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SsdLayout:
    """Tensor indices of the SSD outputs. `classes`/`scores` are None until the pair is told apart."""

    boxes: int
    count: int
    pair: tuple[int, int]  # the two [1,N] outputs, in the model's order
    classes: int | None
    scores: int | None


def is_ssd_layout(outputs: Sequence[TensorInfo]) -> bool:
    shapes = sorted((len(o.shape), o.shape) for o in outputs)
    if len(outputs) != 4 or [rank for rank, _ in shapes] != [1, 2, 2, 3]:
        return False
    count, first, second, boxes = (shape for _, shape in shapes)
    n = boxes[1]
    return count == (1,) and first == second == (1, n) and boxes == (1, n, BOX_COORDS)


def resolve_ssd_layout(outputs: Sequence[TensorInfo]) -> SsdLayout:
    """Match the SSD outputs by shape: boxes are the 3-D [1,N,4] one, count the 1-element one.

    The two [1,N] outputs are classes and scores. When the tensor names are the post-process op's
    own (`X`, `X:1`, `X:2`, `X:3` with X ending in TFLite_Detection_PostProcess), `:1` is classes and
    `:2` scores, as the op defines. Otherwise (e.g. `StatefulPartitionedCall:N` from TF2 exporters,
    whose numbering differs between exporters) they stay undecided and SsdAdapter tells them apart by
    their values on the first frames (see `classes_position`)."""
    if not is_ssd_layout(outputs):
        shapes = ", ".join(str(list(o.shape)) for o in outputs)
        raise ModelError(f"model outputs {shapes} are not the SSD post-process layout ({SSD_LAYOUT})")
    boxes = next(o for o in outputs if len(o.shape) == 3)
    count = next(o for o in outputs if len(o.shape) == 1)
    first, second = (o for o in outputs if len(o.shape) == 2)
    by_name = {o.name: o.index for o in outputs}
    base = boxes.name
    named = base.endswith(POSTPROCESS_OP) and by_name.get(f"{base}:3") == count.index
    classes = by_name.get(f"{base}:1") if named else None
    scores = by_name.get(f"{base}:2") if named else None
    if classes is None or scores is None or {classes, scores} != {first.index, second.index}:
        classes = scores = None
    return SsdLayout(boxes.index, count.index, (first.index, second.index), classes, scores)


def _is_integral(values: FloatArray) -> bool:
    return bool(np.all(values == np.round(values)))


def _is_unit(values: FloatArray) -> bool:
    return bool(np.all((values >= 0.0) & (values <= 1.0)))


def classes_position(first: FloatArray, second: FloatArray) -> int | None:
    """Which of two [N] float tensors holds class ids: 0, 1, or None when the values cannot tell.

    Class ids are whole numbers; scores lie in [0, 1]. A tensor is surely the classes when its values
    are whole and some lie outside [0, 1]; surely the scores when some value is not whole. The
    decision needs at least one sure sign and no contradicting one."""
    signs: set[int] = set()
    for position, values, other in ((0, first, second), (1, second, first)):
        if _is_integral(values) and not _is_unit(values):
            signs.add(position)
        if not _is_integral(other):
            signs.add(position)
    return signs.pop() if len(signs) == 1 else None


def ssd_class_count(tensors: Sequence[TensorInfo], num_boxes: int) -> int | None:
    """Lower bound of the classes an SSD model can emit, from its [1, anchors, K] class-prediction tensor.

    The post-process input has K = classes + 1 when it carries a background column (TF1 exports), K =
    classes otherwise, so K - 1 is a safe lower bound. None when no such tensor is visible."""
    anchors = {t.shape[1] for t in tensors if len(t.shape) == 3 and t.shape[2] == BOX_COORDS and t.shape[1] > num_boxes}
    widths = [t.shape[2] for t in tensors if len(t.shape) == 3 and t.shape[1] in anchors and t.shape[2] > BOX_COORDS]
    return max(widths) - 1 if widths else None


class SsdAdapter:
    """Reads boxes/classes/scores/count written by TFLite_Detection_PostProcess (NMS already done)."""

    def __init__(self, layout: SsdLayout, num_classes: int | None, reportable: npt.NDArray[np.bool_], max_keep: int):
        self.layout = layout
        self.num_classes = num_classes
        self._reportable = reportable
        self._max_keep = max_keep

    def decode(self, read: ReadTensor, min_score: float) -> Candidates:
        layout = self.layout
        boxes = read(layout.boxes).reshape(-1, BOX_COORDS)
        first = read(layout.pair[0]).reshape(-1)
        second = read(layout.pair[1]).reshape(-1)
        n = int(np.clip(read(layout.count).reshape(-1)[0], 0, boxes.shape[0]))
        classes, scores = self._order(first[:n], second[:n])
        yx = boxes[:n].astype(np.float32)
        candidates = Candidates(
            boxes=yx[:, [1, 0, 3, 2]],
            scores=scores.astype(np.float32),
            class_ids=np.round(classes).astype(np.int64),
        )
        candidates = subset(candidates, candidates.scores >= min_score)
        candidates = keep_reportable(candidates, self._reportable)
        best_first = np.argsort(-candidates.scores, kind="stable")[: self._max_keep]
        return subset(candidates, best_first)

    def _order(self, first: FloatArray, second: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(classes, scores). Decides once from values when the names did not; until then the op's order."""
        layout = self.layout
        if layout.classes is None:
            position = classes_position(first, second)
            if position is None:
                return first, second
            classes = layout.pair[position]
            scores = layout.pair[1 - position]
            self.layout = SsdLayout(layout.boxes, layout.count, layout.pair, classes, scores)
        return (first, second) if self.layout.classes == self.layout.pair[0] else (second, first)


# --- YOLO ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YoloLayout:
    """The raw head output: `transposed` means [1, N, 4+C] instead of [1, 4+C, N]."""

    index: int
    num_classes: int
    transposed: bool
    scale: float
    zero_point: int


def is_yolo_layout(outputs: Sequence[TensorInfo]) -> bool:
    return (
        len(outputs) == 1
        and len(outputs[0].shape) == 3
        and outputs[0].shape[0] == 1
        and min(outputs[0].shape[1:]) > BOX_COORDS
    )


def resolve_yolo_layout(outputs: Sequence[TensorInfo]) -> YoloLayout:
    """The smaller of the last two dimensions is 4 + C (84 for COCO), the larger the N candidates."""
    if not is_yolo_layout(outputs):
        shapes = ", ".join(str(list(o.shape)) for o in outputs)
        raise ModelError(f"model outputs {shapes} are not the YOLO raw-head layout ({YOLO_LAYOUT})")
    out = outputs[0]
    rows, cols = out.shape[1], out.shape[2]
    transposed = cols < rows
    channels = cols if transposed else rows
    return YoloLayout(out.index, channels - BOX_COORDS, transposed, out.scale, out.zero_point)


class YoloAdapter:
    """Decodes [1,4+C,N] (cx, cy, w, h, class scores; no objectness): threshold, then per-class NMS."""

    def __init__(
        self,
        layout: YoloLayout,
        input_size: tuple[int, int],
        reportable: npt.NDArray[np.bool_],
        nms_iou: float,
        max_keep: int,
    ):
        self.layout = layout
        self.num_classes: int | None = layout.num_classes
        self._input_size = input_size
        self._reportable = reportable
        self._nms_iou = nms_iou
        self._max_keep = max_keep

    def decode(self, read: ReadTensor, min_score: float) -> Candidates:
        layout = self.layout
        raw = read(layout.index)[0]
        if layout.transposed:
            raw = raw.T
        class_rows = raw[BOX_COORDS:]
        best = dequantize(class_rows.max(axis=0), layout.scale, layout.zero_point)
        picked = np.flatnonzero(best >= min_score)
        class_ids = class_rows[:, picked].argmax(axis=0).astype(np.int64)
        xywh = dequantize(raw[:BOX_COORDS, picked], layout.scale, layout.zero_point)
        candidates = keep_reportable(Candidates(self._to_xyxy(xywh), best[picked], class_ids), self._reportable)
        keep = nms(candidates.boxes, candidates.scores, candidates.class_ids, self._nms_iou, self._max_keep)
        return subset(candidates, keep)

    def _to_xyxy(self, xywh: FloatArray) -> FloatArray:
        """(4, K) cx, cy, w, h -> (K, 4) x1, y1, x2, y2 normalised; pixel-valued exports are divided."""
        cx, cy, w, h = xywh
        if xywh.size and float(np.abs(xywh).max()) > PIXEL_COORDS_ABOVE:
            width, height = self._input_size
            cx, w = cx / width, w / width
            cy, h = cy / height, h / height
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
