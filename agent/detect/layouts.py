"""Which output layout a detector model has (SSD post-process, YOLOv8/YOLO11 head, YOLOX grid, end to
end), the adapter that decodes it, and the pixel convention its family's input follows. Everything
is decided from the model's tensors and labels once, at load, on the thread that builds the detector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.config.schema import ModelConfig, ModelKind
from agent.detect.adapters import (
    SSD_LAYOUT,
    YOLO_LAYOUT,
    OutputAdapter,
    SsdAdapter,
    YoloAdapter,
    is_ssd_layout,
    is_yolo_layout,
    resolve_ssd_layout,
    resolve_yolo_layout,
    ssd_class_count,
)
from agent.detect.end_to_end import E2E_LAYOUT, EndToEndAdapter, is_end_to_end_layout, resolve_end_to_end_layout
from agent.detect.preprocess import FloatRange
from agent.detect.runner import ModelRunner, TensorInfo
from agent.detect.yolox import STRIDE_SETS, YOLOX_LAYOUT, YoloxAdapter, anchor_count, is_yolox_layout
from agent.errors import ModelError


@dataclass(frozen=True, slots=True)
class PixelConvention:
    """How a model family wants its pixels when nothing else says: colour order, float range, resize."""

    bgr: bool
    float_range: FloatRange
    letterbox: bool


# What each family's reference preprocessing does. SSD and YOLO keep the agent's TFLite behaviour
# (stretch; it measured as well as letterbox on the shared YOLOv8n); YOLOX is trained on BGR 0-255
# letterboxed with 114 grey. A catalogue entry may override any of these (agent/catalog/resolve.py).
CONVENTIONS = {
    ModelKind.SSD: PixelConvention(bgr=False, float_range=FloatRange.SYMMETRIC, letterbox=False),
    ModelKind.YOLO: PixelConvention(bgr=False, float_range=FloatRange.UNIT, letterbox=False),
    ModelKind.YOLOX: PixelConvention(bgr=True, float_range=FloatRange.PIXEL, letterbox=True),
    ModelKind.END_TO_END: PixelConvention(bgr=False, float_range=FloatRange.UNIT, letterbox=False),
}


def _shapes(outputs: Sequence[TensorInfo]) -> str:
    return ", ".join(f"{o.name} {list(o.shape)}" for o in outputs)


def resolve_kind(
    outputs: Sequence[TensorInfo], requested: ModelKind, input_size: tuple[int, int], num_labels: int
) -> ModelKind:
    """The output layout: `requested` unless auto (checked when the adapter is built), else inferred.

    The order matters: a [1,N,85] YOLOX grid would also pass as a transposed 81-class YOLO head, and
    a [1,K,6] end-to-end output as a 2-class one; see is_yolox_layout and is_end_to_end_layout."""
    if requested is not ModelKind.AUTO:
        return requested
    anchors = tuple(anchor_count(strides, input_size) for strides in STRIDE_SETS)
    if is_ssd_layout(outputs):
        return ModelKind.SSD
    if is_yolox_layout(outputs, input_size, num_labels):
        return ModelKind.YOLOX
    if is_end_to_end_layout(outputs, anchors):
        return ModelKind.END_TO_END
    if is_yolo_layout(outputs):
        return ModelKind.YOLO
    raise ModelError(
        f"cannot tell the model's output layout from its outputs ({_shapes(outputs)}); expected SSD ({SSD_LAYOUT}), "
        f"YOLO ({YOLO_LAYOUT}), YOLOX ({YOLOX_LAYOUT}, C = the {num_labels} labels) or end to end ({E2E_LAYOUT})"
    )


def build_adapter(
    kind: ModelKind,
    runner: ModelRunner,
    input_size: tuple[int, int],
    reportable: npt.NDArray[np.bool_],
    cfg: ModelConfig,
) -> OutputAdapter:
    """The adapter of `kind` for the runner's outputs; ModelError when they do not fit it."""
    outputs = runner.outputs
    if kind is ModelKind.SSD:
        layout = resolve_ssd_layout(outputs)
        num_boxes = next(o.shape[1] for o in outputs if o.index == layout.boxes)
        classes = ssd_class_count(runner.all_tensors(), num_boxes)
        return SsdAdapter(layout, classes, reportable, cfg.max_detections)
    if kind is ModelKind.YOLOX:
        return YoloxAdapter(outputs, input_size, reportable, cfg.nms_iou, cfg.max_detections)
    if kind is ModelKind.END_TO_END:
        anchors = tuple(anchor_count(strides, input_size) for strides in STRIDE_SETS)
        return EndToEndAdapter(resolve_end_to_end_layout(outputs, anchors), input_size, reportable, cfg.max_detections)
    yolo = resolve_yolo_layout(outputs)
    return YoloAdapter(yolo, input_size, reportable, cfg.nms_iou, cfg.max_detections)
