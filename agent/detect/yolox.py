"""The YOLOX grid output [1, N, 5+C]: per anchor cx, cy, w, h (grid units, raw), objectness and C class
scores, N anchors over the strides' grids (52x52 + 26x26 + 13x13 for 416 with strides 8, 16, 32).
Layout detection at load, and the adapter that decodes it after each invoke (its detector thread)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.detect.adapters import (
    BOX_COORDS,
    Candidates,
    FloatArray,
    ReadTensor,
    dequantize,
    keep_reportable,
    subset,
)
from agent.detect.runner import TensorInfo
from agent.errors import ModelError
from agent.geometry import nms

OBJECTNESS = BOX_COORDS  # column 4
FIRST_CLASS = BOX_COORDS + 1
# Stride sets of the YOLOX families: P3-P5 (nano to x) and P3-P6 (the 1280 models).
STRIDE_SETS = ((8, 16, 32), (8, 16, 32, 64))
# An export with decode_in_inference=True has box centres in input pixels (spanning the input); the raw
# head's centre offsets stay within a few grid cells of their anchor.
DECODED_CENTRE_ABOVE = 8.0
YOLOX_LAYOUT = "1 output [1,N,5+C] with N the anchors of strides 8/16/32(/64) over the input"


def anchor_count(strides: Sequence[int], input_size: tuple[int, int]) -> int:
    width, height = input_size
    return sum((height // s) * (width // s) for s in strides)


def strides_for(anchors: int, input_size: tuple[int, int]) -> tuple[int, ...] | None:
    """The stride set whose grids over `input_size` hold exactly `anchors` cells, if any."""
    return next((s for s in STRIDE_SETS if anchor_count(s, input_size) == anchors), None)


def is_yolox_layout(outputs: Sequence[TensorInfo], input_size: tuple[int, int], num_labels: int) -> bool:
    """One [1, N, 5+C] output, N the grid cells of a stride set, and C the label count.

    The label count is what tells YOLOX (objectness + C classes) from a transposed YOLOv8 head with
    C + 1 classes, whose N is the same grid count."""
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        return False
    batch, anchors, channels = outputs[0].shape
    return batch == 1 and channels - FIRST_CLASS == num_labels and strides_for(anchors, input_size) is not None


@dataclass(frozen=True, slots=True)
class YoloxGrid:
    """Per anchor, its cell (x, y) and its stride, in the output's anchor order."""

    cells: FloatArray  # (N, 2)
    strides: FloatArray  # (N, 1)


def make_grid(strides: Sequence[int], input_size: tuple[int, int]) -> YoloxGrid:
    """Row-major cells per stride, strides in order: YOLOX's own anchor order."""
    width, height = input_size
    cells, per_anchor = [], []
    for stride in strides:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        per_anchor.append(np.full((xs.size, 1), stride))
    return YoloxGrid(np.concatenate(cells).astype(np.float32), np.concatenate(per_anchor).astype(np.float32))


class YoloxAdapter:
    """Decodes [1,N,5+C]: score = objectness x best class score, boxes from the grid, then per-class NMS."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        input_size: tuple[int, int],
        reportable: npt.NDArray[np.bool_],
        nms_iou: float,
        max_keep: int,
    ) -> None:
        if not is_yolox_layout(outputs, input_size, reportable.size):
            shapes = ", ".join(str(list(o.shape)) for o in outputs)
            raise ModelError(
                f"model outputs {shapes} are not the YOLOX grid layout ({YOLOX_LAYOUT}, C = the "
                f"{reportable.size} labels) for input {input_size[0]}x{input_size[1]}"
            )
        out = outputs[0]
        strides = strides_for(out.shape[1], input_size)
        assert strides is not None  # checked by is_yolox_layout
        self.index = out.index
        self._quantization = (out.scale, out.zero_point)
        self.num_classes: int | None = out.shape[2] - FIRST_CLASS
        self.strides = strides
        self._grid = make_grid(strides, input_size)
        self._input = np.array(input_size * 2, dtype=np.float32)
        self._reportable = reportable
        self._nms_iou = nms_iou
        self._max_keep = max_keep

    def decode(self, read: ReadTensor, min_score: float) -> Candidates:
        raw = read(self.index)[0]
        raw = dequantize(raw, *self._quantization) if self._quantization[0] else raw.astype(np.float32, copy=False)
        # Class scores are at most 1, so objectness below the threshold rules an anchor out.
        picked = np.flatnonzero(raw[:, OBJECTNESS] >= min_score)
        rows = raw[picked]
        class_scores = rows[:, FIRST_CLASS:]
        class_ids = class_scores.argmax(axis=1).astype(np.int64)
        scores = rows[:, OBJECTNESS] * class_scores[np.arange(picked.size), class_ids]
        keep = scores >= min_score
        picked, rows, scores, class_ids = picked[keep], rows[keep], scores[keep], class_ids[keep]
        decoded = raw.shape[0] > 0 and float(np.abs(raw[:, 0]).max()) > DECODED_CENTRE_ABOVE
        centres, sizes = rows[:, :2], rows[:, 2:BOX_COORDS]
        if not decoded:
            stride = self._grid.strides[picked]
            centres = (centres + self._grid.cells[picked]) * stride
            sizes = np.exp(sizes) * stride
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1) / self._input
        candidates = keep_reportable(Candidates(boxes.astype(np.float32), scores, class_ids), self._reportable)
        kept = nms(candidates.boxes, candidates.scores, candidates.class_ids, self._nms_iou, self._max_keep)
        return subset(candidates, kept)
