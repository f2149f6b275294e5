"""Per-class greedy NMS (agent.geometry.nms, used by agent.detect.adapters) on hand-made boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from agent.geometry import nms

# Two 10x10 boxes shifted by 1 px overlap with IoU 90/110 = 0.818; shifted by 5 px, 50/150 = 0.333.
A = [0, 0, 10, 10]
A_SHIFT1 = [1, 0, 11, 10]
A_SHIFT5 = [5, 0, 15, 10]
FAR = [50, 50, 60, 60]
INSIDE = [2, 2, 8, 8]  # IoU with A = 36/100
POINT = [3, 3, 3, 3]  # zero area


def run(
    boxes: Sequence[Sequence[float]], scores: list[float], classes: list[int], iou: float = 0.5, max_keep: int = 50
) -> list[int]:
    result = nms(
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
        np.array(scores, dtype=np.float32),
        np.array(classes, dtype=np.int64),
        iou,
        max_keep,
    )
    return [int(i) for i in result]


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "iou", "expected"),
    [
        pytest.param([A, A_SHIFT1], [0.9, 0.8], [0, 0], 0.5, [0], id="overlap-same-class-keeps-best"),
        pytest.param([A, A_SHIFT1], [0.8, 0.9], [0, 0], 0.5, [1], id="best-wins-regardless-of-position"),
        pytest.param([A, A_SHIFT1], [0.9, 0.8], [0, 1], 0.5, [0, 1], id="overlap-other-class-kept"),
        pytest.param([A, A_SHIFT5], [0.9, 0.8], [0, 0], 0.5, [0, 1], id="low-overlap-kept"),
        pytest.param([A, A_SHIFT5], [0.9, 0.8], [0, 0], 0.3, [0], id="low-threshold-suppresses"),
        pytest.param([A, A_SHIFT1], [0.9, 0.8], [0, 0], 0.85, [0, 1], id="high-threshold-keeps"),
        pytest.param([A, FAR], [0.3, 0.9], [0, 0], 0.5, [1, 0], id="disjoint-sorted-by-score"),
        pytest.param([A, INSIDE], [0.9, 0.8], [0, 0], 0.5, [0, 1], id="contained-small-box-low-iou"),
        pytest.param([A, INSIDE], [0.9, 0.8], [0, 0], 0.35, [0], id="contained-box-suppressed-at-035"),
        pytest.param(
            [A, A_SHIFT1, A_SHIFT5], [0.7, 0.9, 0.8], [0, 0, 0], 0.5, [1, 2], id="chain-only-direct-suppression"
        ),
        pytest.param([POINT, A], [0.9, 0.8], [0, 0], 0.5, [0, 1], id="zero-area-box-no-nan"),
        pytest.param([A, A], [0.5, 0.5], [0, 0], 0.5, [0], id="identical-equal-scores-keeps-first"),
    ],
)
def test_nms_table(
    boxes: list[list[float]], scores: list[float], classes: list[int], iou: float, expected: list[int]
) -> None:
    """NMS drops a box only when it overlaps a better box of the same class above the IoU threshold."""
    assert run(boxes, scores, classes, iou) == expected


@pytest.mark.parametrize(("max_keep", "expected"), [(1, [2]), (2, [2, 0]), (3, [2, 0, 1]), (10, [2, 0, 1])])
def test_nms_caps_at_max_keep(max_keep: int, expected: list[int]) -> None:
    """At most max_keep indices come back, the best scores first."""
    boxes = [[0, 0, 1, 1], [10, 10, 11, 11], [20, 20, 21, 21]]
    assert run(boxes, [0.8, 0.7, 0.9], [0, 1, 2], max_keep=max_keep) == expected


def test_nms_empty_input() -> None:
    """No boxes in, no indices out (and no error)."""
    assert run([], [], []) == []


def test_nms_many_classes_on_one_spot() -> None:
    """Every class keeps its own best box when all boxes sit on the same spot."""
    boxes = [A] * 6
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    classes = [0, 1, 2, 0, 1, 2]
    assert run(boxes, scores, classes) == [0, 1, 2]
