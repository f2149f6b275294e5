"""End-to-end detector outputs, NMS already inside the model: either three outputs boxes [1,K,4]
(x1, y1, x2, y2), scores [1,K] and classes [1,K], or one [1,K,6] (x1, y1, x2, y2, score, class), as
YOLOv10/YOLO26 and NonMaxSuppression-terminated exports give. K may vary per frame. Boxes are in
input pixels or normalised (told apart by value). Decoded by its detector thread after each invoke."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.detect.adapters import (
    BOX_COORDS,
    PIXEL_COORDS_ABOVE,
    Candidates,
    FloatArray,
    ReadTensor,
    classes_position,
    keep_reportable,
    subset,
)
from agent.detect.runner import TensorInfo
from agent.errors import ModelError

PACKED_COLUMNS = 6  # x1, y1, x2, y2, score, class
SCORE_COLUMN, CLASS_COLUMN = 4, 5
E2E_LAYOUT = "3 outputs boxes [1,K,4], scores [1,K], classes [1,K]; or 1 output [1,K,6]"


@dataclass(frozen=True, slots=True)
class EndToEndLayout:
    """Which output holds what. `packed`: one [1,K,6] output at `boxes`; otherwise classes and scores are
    the two [1,K] outputs, told apart by dtype (integer = classes) or, when both are float, by value."""

    boxes: int
    pair: tuple[int, int] | None
    classes: int | None
    packed: bool


def _is_packed(outputs: Sequence[TensorInfo], anchor_counts: Sequence[int]) -> bool:
    """One [1,K,6] output whose K is not a YOLO grid count (that would be a 2-class YOLO head)."""
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        return False
    batch, rows, columns = outputs[0].shape
    return batch == 1 and columns == PACKED_COLUMNS and rows not in anchor_counts


def _triple(outputs: Sequence[TensorInfo]) -> tuple[TensorInfo, TensorInfo, TensorInfo] | None:
    """(boxes, first, second) when the outputs are one [1,K,4] and two [1,K], else None."""
    if len(outputs) != 3:
        return None
    boxes = [o for o in outputs if len(o.shape) == 3 and o.shape[0] == 1 and o.shape[2] == BOX_COORDS]
    flat = [o for o in outputs if len(o.shape) == 2 and o.shape[0] == 1]
    if len(boxes) != 1 or len(flat) != 2:
        return None
    if not boxes[0].shape[1] == flat[0].shape[1] == flat[1].shape[1]:
        return None
    return boxes[0], flat[0], flat[1]


def is_end_to_end_layout(outputs: Sequence[TensorInfo], anchor_counts: Sequence[int] = ()) -> bool:
    return _is_packed(outputs, anchor_counts) or _triple(outputs) is not None


def resolve_end_to_end_layout(outputs: Sequence[TensorInfo], anchor_counts: Sequence[int] = ()) -> EndToEndLayout:
    if _is_packed(outputs, anchor_counts):
        return EndToEndLayout(outputs[0].index, None, None, packed=True)
    triple = _triple(outputs)
    if triple is None:
        shapes = ", ".join(str(list(o.shape)) for o in outputs)
        raise ModelError(f"model outputs {shapes} are not the end-to-end layout ({E2E_LAYOUT})")
    boxes, first, second = triple
    integral = [o.index for o in (first, second) if o.dtype.kind in "iu"]
    classes = integral[0] if len(integral) == 1 else None
    return EndToEndLayout(boxes.index, (first.index, second.index), classes, packed=False)


class EndToEndAdapter:
    """Thresholds, filters and caps the model's own detections (no NMS: the model did it)."""

    def __init__(
        self, layout: EndToEndLayout, input_size: tuple[int, int], reportable: npt.NDArray[np.bool_], max_keep: int
    ) -> None:
        self.layout = layout
        self.num_classes: int | None = None  # not visible in the shapes
        self._input = np.array(input_size * 2, dtype=np.float32)
        self._reportable = reportable
        self._max_keep = max_keep

    def decode(self, read: ReadTensor, min_score: float) -> Candidates:
        boxes, scores, classes = self._columns(read)
        if boxes.size and float(np.abs(boxes).max()) > PIXEL_COORDS_ABOVE:
            boxes = boxes / self._input
        candidates = Candidates(boxes.astype(np.float32), scores.astype(np.float32), np.round(classes).astype(np.int64))
        candidates = subset(candidates, candidates.scores >= min_score)
        candidates = keep_reportable(candidates, self._reportable)
        return subset(candidates, np.argsort(-candidates.scores, kind="stable")[: self._max_keep])

    def _columns(self, read: ReadTensor) -> tuple[FloatArray, FloatArray, FloatArray]:
        layout = self.layout
        if layout.packed:
            rows = read(layout.boxes).reshape(-1, PACKED_COLUMNS).astype(np.float32, copy=False)
            return rows[:, :BOX_COORDS], rows[:, SCORE_COLUMN], rows[:, CLASS_COLUMN]
        assert layout.pair is not None  # not packed
        boxes = read(layout.boxes).reshape(-1, BOX_COORDS).astype(np.float32, copy=False)
        first = read(layout.pair[0]).reshape(-1).astype(np.float32)
        second = read(layout.pair[1]).reshape(-1).astype(np.float32)
        if layout.classes is None:
            position = classes_position(first, second)
            if position is not None:
                self.layout = EndToEndLayout(layout.boxes, layout.pair, layout.pair[position], packed=False)
        if self.layout.classes == layout.pair[1]:
            return boxes, first, second
        return boxes, second, first
