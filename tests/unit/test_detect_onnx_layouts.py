"""The layouts ONNX detectors bring (agent.detect.yolox, end_to_end, letterbox) and the input forms
(NCHW, BGR, 0-255 floats, letterbox) on hand-made tensors, where every expected value is written out."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from agent.detect.end_to_end import EndToEndAdapter, resolve_end_to_end_layout
from agent.detect.letterbox import LETTERBOX_PAD, Placement, input_to_frame, place
from agent.detect.preprocess import FloatRange, InputSpec, InputWriter
from agent.detect.runner import TensorInfo
from agent.detect.yolox import YoloxAdapter, anchor_count, make_grid, strides_for

F32 = np.dtype(np.float32)
ALL = np.ones(3, dtype=np.bool_)


def info(index: int, shape: tuple[int, ...], dtype: np.dtype[np.generic] = F32) -> TensorInfo:
    return TensorInfo(index, f"t{index}", shape, dtype, 0.0, 0)


@pytest.mark.parametrize(
    ("anchors", "size", "strides"),
    [
        pytest.param(3549, (416, 416), (8, 16, 32), id="416"),
        pytest.param(8400, (640, 640), (8, 16, 32), id="640"),
        pytest.param(1200 + 300 + 70, (320, 240), (8, 16, 32), id="320x240"),
        pytest.param(8400 + 100, (640, 640), (8, 16, 32, 64), id="p6"),
        pytest.param(3548, (416, 416), None, id="no-stride-set"),
    ],
)
def test_strides_come_from_anchor_count_and_input(
    anchors: int, size: tuple[int, int], strides: tuple[int, ...] | None
) -> None:
    """The stride set is the one whose grids over the input hold exactly N anchors."""
    assert strides_for(anchors, size) == strides


def test_grid_is_row_major_per_stride() -> None:
    """Anchor i of stride s sits at cell (i mod W/s, i div W/s); the strides follow each other in order."""
    grid = make_grid((8, 16), (32, 16))
    assert grid.cells.shape == (8 + 2, 2)
    np.testing.assert_array_equal(grid.cells[:5], [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]])
    np.testing.assert_array_equal(grid.cells[8:], [[0, 0], [1, 0]])
    np.testing.assert_array_equal(grid.strides[:, 0], [8] * 8 + [16] * 2)


def yolox_output(rows: dict[int, list[float]], size: tuple[int, int] = (64, 64)) -> np.ndarray:
    out = np.zeros((1, anchor_count((8, 16, 32), size), 5 + 3), dtype=np.float32)
    for anchor, values in rows.items():
        out[0, anchor] = values
    return out


def test_yolox_decodes_grid_stride_and_objectness() -> None:
    """Anchor 9 (stride 8, cell (1, 1)) with offsets (0.5, 0.5) and log-size 0 is a 8x8 box centred at
    (12, 12) of the 64x64 input; its score is objectness x class score; weaker anchors are dropped."""
    out = yolox_output({9: [0.5, 0.5, 0.0, 0.0, 0.8, 0.1, 0.9, 0.0], 20: [0, 0, 0, 0, 0.3, 0.9, 0, 0]})
    adapter = YoloxAdapter((info(0, out.shape),), (64, 64), ALL, 0.5, 10)
    result = adapter.decode({0: out}.__getitem__, 0.5)
    np.testing.assert_allclose(result.boxes, [[8 / 64, 8 / 64, 16 / 64, 16 / 64]], atol=1e-6)
    np.testing.assert_allclose(result.scores, [0.72], atol=1e-6)
    assert result.class_ids.tolist() == [1]


def test_yolox_export_with_decoding_inside_is_read_as_pixels() -> None:
    """An export with decode_in_inference (centres already in input pixels) is not decoded a second time."""
    out = yolox_output({0: [40.0, 20.0, 10.0, 4.0, 0.9, 1.0, 0.0, 0.0]})
    adapter = YoloxAdapter((info(0, out.shape),), (64, 64), ALL, 0.5, 10)
    result = adapter.decode({0: out}.__getitem__, 0.5)
    np.testing.assert_allclose(result.boxes, [[35 / 64, 18 / 64, 45 / 64, 22 / 64]], atol=1e-6)


def test_yolox_nms_merges_overlapping_anchors_of_one_class() -> None:
    """Two anchors of one class on the same object leave one box, the better-scored."""
    out = yolox_output({9: [0.5, 0.5, 0, 0, 0.9, 1, 0, 0], 10: [-0.45, 0.5, 0, 0, 0.8, 1, 0, 0]})
    result = YoloxAdapter((info(0, out.shape),), (64, 64), ALL, 0.5, 10).decode({0: out}.__getitem__, 0.5)
    np.testing.assert_allclose(result.scores, [0.9], atol=1e-6)


def test_end_to_end_three_outputs_tells_classes_by_dtype() -> None:
    """boxes/scores/classes outputs in any order: the integer one is classes; pixel boxes are normalised."""
    boxes = np.array([[[10, 20, 30, 40], [0, 0, 64, 32]]], dtype=np.float32)
    classes = np.array([[2, 0]], dtype=np.int64)
    scores = np.array([[0.4, 0.9]], dtype=np.float32)
    outputs = (info(0, (1, -1), np.dtype(np.int64)), info(1, (1, -1, 4)), info(2, (1, -1)))
    layout = resolve_end_to_end_layout(outputs)
    assert (layout.boxes, layout.classes, layout.packed) == (1, 0, False)
    tensors: dict[int, npt.NDArray[Any]] = {0: classes, 1: boxes, 2: scores}
    result = EndToEndAdapter(layout, (64, 64), ALL, 10).decode(tensors.__getitem__, 0.3)
    assert result.class_ids.tolist() == [0, 2]
    np.testing.assert_allclose(result.boxes[1], [10 / 64, 20 / 64, 30 / 64, 40 / 64], atol=1e-6)


def test_end_to_end_packed_rows_threshold_and_filter_labels() -> None:
    """[1,K,6] rows are x1, y1, x2, y2, score, class; low scores and unreportable classes are dropped."""
    rows = np.array([[[0.1, 0.1, 0.5, 0.5, 0.9, 1], [0.2, 0.2, 0.4, 0.4, 0.2, 0], [0, 0, 1, 1, 0.8, 2]]], F32)
    layout = resolve_end_to_end_layout((info(0, (1, 300, 6)),), (3549,))
    reportable = np.array([True, True, False])
    result = EndToEndAdapter(layout, (64, 64), reportable, 10).decode({0: rows}.__getitem__, 0.5)
    assert result.class_ids.tolist() == [1]
    np.testing.assert_allclose(result.boxes, [[0.1, 0.1, 0.5, 0.5]], atol=1e-6)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param((640, 480), Placement(0, 52, 416, 312), id="4:3-bands-above-below"),
        pytest.param((300, 600), Placement(104, 0, 208, 416), id="portrait-bands-left-right"),
        pytest.param((416, 416), Placement(0, 0, 416, 416), id="square"),
    ],
)
def test_letterbox_placement(frame: tuple[int, int], expected: Placement) -> None:
    """The frame is scaled to fit and centred."""
    assert place(*frame, 416, 416, letterbox=True) == expected


def test_input_boxes_map_back_through_the_letterbox() -> None:
    """A box over the whole placed rectangle is the whole frame; stretch multiplies by the frame size."""
    spot = place(640, 480, 416, 416, letterbox=True)
    box = np.array([[0, 52 / 416, 1, (52 + 312) / 416]], dtype=np.float32)
    np.testing.assert_allclose(input_to_frame(box, spot, (416, 416), (640, 480)), [[0, 0, 640, 480]], atol=1e-3)
    stretch = place(640, 480, 416, 416, letterbox=False)
    half = np.array([[0.5, 0.5, 1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(input_to_frame(half, stretch, (416, 416), (640, 480)), [[320, 240, 640, 480]])


def test_nchw_bgr_pixel_letterbox_input() -> None:
    """YOLOX's input: a 4x2 frame in an 4x4 float NCHW tensor, BGR kept, 0-255, grey bands above and below."""
    spec = InputSpec(4, 4, F32, 0.0, 0, FloatRange.PIXEL, channels_first=True, bgr=True, letterbox=True)
    image = np.zeros((2, 4, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30  # B, G, R
    tensor = np.zeros(spec.shape, dtype=np.float32)
    InputWriter(spec).write(image, tensor)
    assert tensor.shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(
        tensor[0, :, 1:3], np.broadcast_to(np.array([10, 20, 30.0])[:, None, None], (3, 2, 4))
    )
    np.testing.assert_array_equal(tensor[0, :, [0, 3]], LETTERBOX_PAD)


def test_nchw_rgb_unit_stretch_input() -> None:
    """An Ultralytics-style input: NCHW float, RGB order, pixel / 255, stretched."""
    spec = InputSpec(2, 2, F32, 0.0, 0, FloatRange.UNIT, channels_first=True)
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    image[..., 0], image[..., 2] = 51, 255  # B, R
    tensor = np.zeros(spec.shape, dtype=np.float32)
    InputWriter(spec).write(image, tensor)
    np.testing.assert_allclose(tensor[0, :, 0, 0], [1.0, 0.0, 0.2], atol=1e-6)
