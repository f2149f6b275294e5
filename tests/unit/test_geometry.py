"""Geometry: IoU, point in polygon, line sides, segment intersection, normalised shapes."""

from __future__ import annotations

import numpy as np
import pytest

from agent.geometry import (
    boxes_to_array,
    iou,
    iou_matrix,
    is_normalised,
    point_in_polygon,
    polygon_area,
    segments_intersect,
    side_of_line,
    to_pixels,
    touches_edge,
)
from agent.types import BBox

SQUARE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
CONCAVE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (5.0, 5.0), (0.0, 10.0))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (BBox(0, 0, 10, 10), BBox(0, 0, 10, 10), 1.0),
        (BBox(0, 0, 10, 10), BBox(5, 0, 15, 10), 50 / 150),
        (BBox(0, 0, 10, 10), BBox(10, 0, 20, 10), 0.0),
        (BBox(0, 0, 10, 10), BBox(20, 20, 30, 30), 0.0),
        (BBox(0, 0, 10, 10), BBox(2, 2, 4, 4), 4 / 100),
        (BBox(0, 0, 0, 0), BBox(0, 0, 0, 0), 0.0),
    ],
)
def test_iou_scalar(a: BBox, b: BBox, expected: float) -> None:
    """IoU is intersection over union; touching, disjoint and empty boxes give 0."""
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


def test_iou_matrix_matches_scalar() -> None:
    """Every cell of the vectorised matrix equals the scalar IoU of that pair."""
    rng = np.random.default_rng(7)
    boxes = []
    for _ in range(12):
        x, y = rng.uniform(0, 100, 2)
        w, h = rng.uniform(1, 40, 2)
        boxes.append(BBox(x, y, x + w, y + h))
    a, b = boxes[:5], boxes[5:]
    matrix = iou_matrix(boxes_to_array(a), boxes_to_array(b))
    assert matrix.shape == (5, 7)
    for i, box_a in enumerate(a):
        for j, box_b in enumerate(b):
            assert matrix[i, j] == pytest.approx(iou(box_a, box_b))


def test_iou_matrix_empty_inputs() -> None:
    """An empty side gives an empty matrix of the right shape."""
    assert iou_matrix(boxes_to_array([]), boxes_to_array([BBox(0, 0, 1, 1)])).shape == (0, 1)


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (5.0, 5.0), True),
        (SQUARE, (11.0, 5.0), False),
        (SQUARE, (-0.1, 5.0), False),
        (CONCAVE, (5.0, 2.0), True),
        (CONCAVE, (5.0, 8.0), False),  # in the notch
        (CONCAVE, (1.0, 8.0), True),
    ],
)
def test_point_in_polygon(polygon: tuple[tuple[float, float], ...], point: tuple[float, float], inside: bool) -> None:
    """The even-odd rule handles convex and concave polygons."""
    assert point_in_polygon(point, polygon) is inside


@pytest.mark.parametrize(
    ("point", "sign"),
    [((5.0, 20.0), 1), ((5.0, 0.0), -1), ((5.0, 10.0), 0)],
)
def test_side_of_line_right_is_below_a_left_to_right_line(point: tuple[float, float], sign: int) -> None:
    """Facing from a to b on screen (y down), the right side of a left-to-right line is below it."""
    distance = side_of_line(point, (0.0, 10.0), (10.0, 10.0))
    assert np.sign(distance) == sign
    assert abs(distance) == pytest.approx(abs(point[1] - 10.0))


@pytest.mark.parametrize(
    ("p1", "p2", "q1", "q2", "hit"),
    [
        ((0, 0), (10, 10), (0, 10), (10, 0), True),
        ((0, 0), (4, 4), (0, 10), (10, 0), False),
        ((0, 0), (5, 5), (0, 10), (10, 0), True),  # touching at an end
        ((0, 0), (10, 0), (11, 0), (20, 0), False),  # collinear, apart
        ((0, 0), (10, 0), (5, 0), (20, 0), True),  # collinear, overlapping
    ],
)
def test_segments_intersect(
    p1: tuple[float, float], p2: tuple[float, float], q1: tuple[float, float], q2: tuple[float, float], hit: bool
) -> None:
    """Segments intersect when they cross, touch or overlap, and not otherwise."""
    assert segments_intersect(p1, p2, q1, q2) is hit


def test_normalised_shapes_scale_to_pixels() -> None:
    """A shape with every coordinate <= 1 is scaled by the frame size; a pixel shape is unchanged."""
    norm = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0))
    assert is_normalised(norm)
    assert to_pixels(norm, 640, 480) == ((0.0, 0.0), (320.0, 0.0), (320.0, 480.0))
    pixels = ((0.0, 0.0), (100.0, 0.0), (100.0, 1.0))
    assert not is_normalised(pixels)
    assert to_pixels(pixels, 640, 480) == pixels


def test_polygon_area_and_edge() -> None:
    """Shoelace area of a square; a box at the frame edge touches it, an inner box does not."""
    assert polygon_area(SQUARE) == pytest.approx(100.0)
    assert polygon_area(((0, 0), (1, 1), (2, 2))) == 0.0
    assert touches_edge(BBox(0, 10, 20, 30), 100, 100)
    assert not touches_edge(BBox(10, 10, 20, 30), 100, 100, margin_px=2.0)
    assert touches_edge(BBox(10, 10, 99, 30), 100, 100, margin_px=2.0)
