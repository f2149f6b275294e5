"""Output adapters (agent.detect.adapters): SSD output order found by shape/name/value, SSD and YOLO
decoding of hand-made tensors, layout detection and its errors."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from agent.config.schema import Delegate, ModelKind
from agent.detect.adapters import (
    SsdAdapter,
    SsdLayout,
    YoloAdapter,
    YoloLayout,
    classes_position,
    resolve_ssd_layout,
    resolve_yolo_layout,
    ssd_class_count,
)
from agent.detect.layouts import resolve_kind
from agent.detect.runner import TensorInfo
from agent.detect.runtime import open_interpreter, select_runtime, tensor_infos
from agent.errors import ModelError
from tests.support import assets

F32 = np.dtype(np.float32)


def info(
    index: int, name: str, shape: tuple[int, ...], dtype: np.dtype[Any] = F32, scale: float = 0.0, zp: int = 0
) -> TensorInfo:
    return TensorInfo(index, name, shape, dtype, scale, zp)


@pytest.fixture(scope="module")
def ssd_outputs() -> tuple[TensorInfo, ...]:
    interpreter = open_interpreter(select_runtime(), assets.model(assets.SSD_MODEL), 1, Delegate.CPU)
    return tensor_infos(interpreter.get_output_details())


@pytest.mark.runtime_compat
def test_ssd_layout_of_real_model_matches_tensor_names(ssd_outputs: tuple[TensorInfo, ...]) -> None:
    """On the real SSD, the shape-chosen boxes/count and the name-chosen classes/scores are the op's :0-:3."""
    by_name = {o.name: o.index for o in ssd_outputs}
    layout = resolve_ssd_layout(ssd_outputs)
    assert layout.boxes == by_name["TFLite_Detection_PostProcess"]
    assert layout.classes == by_name["TFLite_Detection_PostProcess:1"]
    assert layout.scores == by_name["TFLite_Detection_PostProcess:2"]
    assert layout.count == by_name["TFLite_Detection_PostProcess:3"]


@pytest.mark.runtime_compat
def test_ssd_layout_is_independent_of_output_order(ssd_outputs: tuple[TensorInfo, ...]) -> None:
    """Every permutation of the four outputs resolves to the same tensors."""
    expected = resolve_ssd_layout(ssd_outputs)
    for order in itertools.permutations(ssd_outputs):
        layout = resolve_ssd_layout(order)
        assert (layout.boxes, layout.count, layout.classes, layout.scores) == (
            expected.boxes,
            expected.count,
            expected.classes,
            expected.scores,
        )


def test_ssd_layout_without_op_names_is_left_to_values() -> None:
    """TF2-style names (StatefulPartitionedCall:N) fix boxes and count by shape and leave the pair undecided."""
    outputs = (
        info(600, "StatefulPartitionedCall:1", (1, 25)),
        info(601, "StatefulPartitionedCall:3", (1, 25, 4)),
        info(602, "StatefulPartitionedCall:0", (1,)),
        info(603, "StatefulPartitionedCall:2", (1, 25)),
    )
    layout = resolve_ssd_layout(outputs)
    assert (layout.boxes, layout.count, layout.pair) == (601, 602, (600, 603))
    assert layout.classes is None
    assert layout.scores is None


SCORES = [0.91, 0.62, 0.40, 0.0]
CLASSES = [0.0, 17.0, 2.0, 0.0]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        pytest.param(CLASSES, SCORES, 0, id="classes-first"),
        pytest.param(SCORES, CLASSES, 1, id="scores-first"),
        pytest.param([0.0, 0.0], [0.7, 0.3], 0, id="only-person-class-told-by-fractional-scores"),
        pytest.param([0.7, 0.3], [0.0, 1.0], 1, id="classes-0-and-1"),
        pytest.param([3.0, 4.0], [1.0, 0.0], 0, id="whole-scores-but-classes-above-one"),
        pytest.param([0.0, 1.0], [1.0, 0.0], None, id="both-whole-in-unit-range-undecided"),
        pytest.param([], [], None, id="no-detections-undecided"),
        pytest.param([0.5, 2.5], [0.5, 0.25], None, id="both-fractional-contradiction"),
    ],
)
def test_classes_position(first: list[float], second: list[float], expected: int | None) -> None:
    """Classes are the whole-valued tensor; scores the one with fractions in [0, 1]; unsure stays None."""
    as_f32 = [np.array(v, dtype=np.float32) for v in (first, second)]
    assert classes_position(*as_f32) == expected


def ssd_tensors(classes_index: int, scores_index: int) -> dict[int, npt.NDArray[np.float32]]:
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.3, 0.3], [0, 0, 0, 0]]], np.float32)
    return {
        1: boxes,
        classes_index: np.array([CLASSES], np.float32),
        scores_index: np.array([SCORES], np.float32),
        4: np.array([3.0], np.float32),
    }


@pytest.mark.parametrize(("classes_index", "scores_index"), [(2, 3), (3, 2)])
def test_ssd_adapter_learns_pair_order_from_values(classes_index: int, scores_index: int) -> None:
    """With undecided names, the adapter reads classes and scores right whichever way round they come."""
    reportable = np.ones(90, dtype=np.bool_)
    adapter = SsdAdapter(SsdLayout(1, 4, (2, 3), None, None), 90, reportable, max_keep=10)
    result = adapter.decode(ssd_tensors(classes_index, scores_index).__getitem__, 0.5)
    assert result.class_ids.tolist() == [0, 17]
    np.testing.assert_allclose(result.scores, [0.91, 0.62])
    np.testing.assert_allclose(result.boxes[0], [0.2, 0.1, 0.6, 0.5])  # ymin,xmin,ymax,xmax -> xyxy
    assert adapter.layout.classes == classes_index


def test_ssd_adapter_drops_placeholder_labels_and_caps() -> None:
    """Classes whose label is `???` are dropped; count and max_keep both limit the result."""
    reportable = np.ones(90, dtype=np.bool_)
    reportable[17] = False
    adapter = SsdAdapter(SsdLayout(1, 4, (2, 3), 2, 3), 90, reportable, max_keep=1)
    result = adapter.decode(ssd_tensors(2, 3).__getitem__, 0.0)
    assert result.class_ids.tolist() == [0]
    adapter = SsdAdapter(SsdLayout(1, 4, (2, 3), 2, 3), 90, reportable, max_keep=10)
    result = adapter.decode(ssd_tensors(2, 3).__getitem__, 0.0)
    assert result.class_ids.tolist() == [0, 2]  # the 4th slot is beyond count=3


def test_ssd_class_count_from_prediction_tensor() -> None:
    """The [1, anchors, K] class-prediction tensor gives K-1 classes (background column assumed)."""
    tensors = (
        info(1, "Squeeze", (1, 1917, 4)),
        info(2, "convert_scores", (1, 1917, 91)),
        info(3, "TFLite_Detection_PostProcess", (1, 10, 4)),
    )
    assert ssd_class_count(tensors, num_boxes=10) == 90
    assert ssd_class_count(tensors[2:], num_boxes=10) is None


def yolo_output(transposed: bool, pixels: bool) -> tuple[YoloLayout, npt.NDArray[Any]]:
    """A [1, 4+3, 10] head: candidates 0 and 1 overlap (class 2), 2 is class 0, 3-4 are weak class 1,
    5-9 score nothing (real heads too have far more candidates than 4+C rows). Normalised boxes come
    int8-quantized; pixel boxes come as float32, as float exports give them."""
    real = np.zeros((7, 10), dtype=np.float64)
    real[:4, 0] = [0.30, 0.40, 0.20, 0.20]
    real[:4, 1] = [0.31, 0.40, 0.20, 0.20]
    real[:4, 2] = [0.80, 0.80, 0.10, 0.10]
    real[:4, 3:5] = 0.5
    real[4 + 2, 0], real[4 + 2, 1], real[4 + 0, 2] = 0.90, 0.80, 0.70
    real[4 + 1, 3:5] = 0.20
    if pixels:
        real[[0, 2]] *= 200  # input 200 px wide
        real[[1, 3]] *= 100  # input 100 px high
        head: npt.NDArray[Any] = real.astype(np.float32)
        scale, zp = 0.0, 0
    else:
        scale, zp = 0.01, -100
        head = np.clip(np.round(real / scale) + zp, -128, 127).astype(np.int8)
    tensor = head.T[None] if transposed else head[None]
    info_ = info(9, "out", tuple(tensor.shape), tensor.dtype, scale, zp)
    return resolve_yolo_layout((info_,)), tensor


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("pixels", [False, True])
def test_yolo_adapter_decodes_thresholds_and_nms(transposed: bool, pixels: bool) -> None:
    """Dequantized [4+C,N] (or [N,4+C]) gives normalised xyxy boxes; overlapping same-class boxes merge."""
    layout, tensor = yolo_output(transposed, pixels)
    assert (layout.transposed, layout.num_classes) == (transposed, 3)
    adapter = YoloAdapter(layout, (200, 100), np.ones(3, dtype=np.bool_), nms_iou=0.5, max_keep=10)
    result = adapter.decode({9: tensor}.__getitem__, 0.5)
    assert result.class_ids.tolist() == [2, 0]
    np.testing.assert_allclose(result.scores, [0.90, 0.70], atol=0.01)
    np.testing.assert_allclose(result.boxes, [[0.20, 0.30, 0.40, 0.50], [0.75, 0.75, 0.85, 0.85]], atol=0.02)


def test_yolo_adapter_respects_threshold_and_reportable() -> None:
    """A lower threshold admits the weak class-1 boxes unless class 1 is not reportable."""
    layout, tensor = yolo_output(False, False)
    everything = YoloAdapter(layout, (200, 100), np.ones(3, dtype=np.bool_), 0.5, 10)
    assert sorted(everything.decode({9: tensor}.__getitem__, 0.1).class_ids.tolist()) == [0, 1, 2]
    no_class_1 = YoloAdapter(layout, (200, 100), np.array([True, False, True]), 0.5, 10)
    assert sorted(no_class_1.decode({9: tensor}.__getitem__, 0.1).class_ids.tolist()) == [0, 2]


def test_yolo_adapter_nothing_above_threshold() -> None:
    """No candidate above the threshold gives empty arrays."""
    layout, tensor = yolo_output(False, False)
    result = YoloAdapter(layout, (200, 100), np.ones(3, dtype=np.bool_), 0.5, 10).decode({9: tensor}.__getitem__, 0.99)
    assert result.boxes.shape == (0, 4)
    assert result.scores.size == 0


SSD_SHAPES = [(1, 10, 4), (1, 10), (1, 10), (1,)]


@pytest.mark.parametrize(
    ("shapes", "requested", "expected"),
    [
        pytest.param(SSD_SHAPES, ModelKind.AUTO, ModelKind.SSD, id="ssd"),
        pytest.param(SSD_SHAPES[::-1], ModelKind.AUTO, ModelKind.SSD, id="ssd-reversed"),
        pytest.param([(1, 84, 3549)], ModelKind.AUTO, ModelKind.YOLO, id="yolo"),
        pytest.param([(1, 8400, 84)], ModelKind.AUTO, ModelKind.YOLO, id="yolo-transposed"),
        pytest.param([(1, 84, 3549)], ModelKind.SSD, ModelKind.SSD, id="forced-kind-wins"),
        pytest.param([(1, 3549, 85)], ModelKind.AUTO, ModelKind.YOLOX, id="yolox-85-is-5-plus-80-labels"),
        pytest.param([(1, 3549, 84)], ModelKind.AUTO, ModelKind.YOLO, id="yolo-84-is-4-plus-80-labels"),
        pytest.param([(1, 10, 4), (1, 10), (1, 10)], ModelKind.AUTO, ModelKind.END_TO_END, id="end-to-end-3"),
        pytest.param([(1, 300, 6)], ModelKind.AUTO, ModelKind.END_TO_END, id="end-to-end-packed"),
        pytest.param([(1, 3549, 6)], ModelKind.AUTO, ModelKind.YOLO, id="2-class-yolo-head-has-grid-n"),
    ],
)
def test_resolve_kind(shapes: list[tuple[int, ...]], requested: ModelKind, expected: ModelKind) -> None:
    """auto infers the kind from the output shapes (416x416 input, 80 labels); an explicit kind is taken as given."""
    outputs = tuple(info(i, f"t{i}", shape) for i, shape in enumerate(shapes))
    assert resolve_kind(outputs, requested, (416, 416), 80) is expected


@pytest.mark.parametrize(
    "shapes",
    [
        pytest.param([(1, 1001)], id="classifier"),
        pytest.param([(1, 10, 4), (1, 12), (1, 10)], id="three-outputs-mismatched-k"),
        pytest.param([(1, 10, 4), (1, 12), (1, 10), (1,)], id="ssd-mismatched-n"),
        pytest.param([(1, 4, 3549)], id="yolo-without-classes"),
    ],
)
def test_unknown_layout_is_a_model_error(shapes: list[tuple[int, ...]]) -> None:
    """Outputs that fit neither layout raise ModelError naming the shapes found and the ones expected."""
    outputs = tuple(info(i, f"t{i}", shape) for i, shape in enumerate(shapes))
    with pytest.raises(ModelError, match=r"expected SSD .*, YOLO .*, YOLOX .* or end to end") as caught:
        resolve_kind(outputs, ModelKind.AUTO, (416, 416), 80)
    assert str(list(shapes[0])) in str(caught.value)


def test_forced_wrong_kind_is_a_model_error() -> None:
    """Asking for ssd on YOLO outputs (or yolo on SSD outputs) names the layout that was expected."""
    with pytest.raises(ModelError, match="not the SSD post-process layout"):
        resolve_ssd_layout((info(0, "out", (1, 84, 3549)),))
    ssd = tuple(info(i, f"t{i}", shape) for i, shape in enumerate(SSD_SHAPES))
    with pytest.raises(ModelError, match="not the YOLO raw-head layout"):
        resolve_yolo_layout(ssd)
