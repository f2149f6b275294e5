"""Plane geometry for boxes, polygons and lines: IoU, per-class NMS, point in polygon, line sides.

Pure functions in pixel coordinates of the original frame (x right, y DOWN).
Called from the analytics thread by the tracker, filters, zones and lines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from agent.types import BBox

Point = tuple[float, float]
FloatArray = npt.NDArray[np.float64]

# A shape whose every coordinate is at most this is in normalised 0..1 units.
NORMALISED_MAX = 1.0


def iou(a: BBox, b: BBox) -> float:
    """Intersection over union of two boxes; 0.0 when either is empty."""
    inter_w = min(a.x2, b.x2) - max(a.x1, b.x1)
    inter_h = min(a.y2, b.y2) - max(a.y1, b.y1)
    if inter_w <= 0.0 or inter_h <= 0.0:
        return 0.0
    inter = inter_w * inter_h
    union = a.area + b.area - inter
    return inter / union if union > 0.0 else 0.0


def boxes_to_array(boxes: Sequence[BBox]) -> FloatArray:
    """An (N, 4) float64 array of xyxy rows."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([(b.x1, b.y1, b.x2, b.y2) for b in boxes], dtype=np.float64)


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of every row of `a` (N, 4) with every row of `b` (M, 4): an (N, M) array."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]), dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    result: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0.0)
    return result


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """True when `point` is inside `polygon` (even-odd rule; a point exactly on an edge may go either way)."""
    x, y = point
    inside = False
    n = len(polygon)
    for i in range(n):
        xi, yi = polygon[i]
        xj, yj = polygon[i - 1]
        if (yi > y) != (yj > y):
            x_cross = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < x_cross:
                inside = not inside
    return inside


def side_of_line(point: Point, a: Point, b: Point) -> float:
    """Signed distance in pixels from the line a->b: > 0 on its RIGHT, < 0 on its LEFT, 0 on it.

    Right/left are as seen on screen when facing from a towards b (image y grows down):
    for a horizontal line drawn left to right, the right side is below it."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = float(np.hypot(dx, dy))
    if length == 0.0:
        return 0.0
    return (dx * (point[1] - a[1]) - dy * (point[0] - a[0])) / length


def _orientation(p: Point, q: Point, r: Point) -> float:
    return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])


def _on_segment(p: Point, q: Point, r: Point) -> bool:
    """`r` (already collinear with p-q) lies within the bounding box of p-q."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when segment p1-p2 and segment q1-q2 share at least one point (touching counts)."""
    d1 = _orientation(q1, q2, p1)
    d2 = _orientation(q1, q2, p2)
    d3 = _orientation(p1, p2, q1)
    d4 = _orientation(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def is_normalised(points: Sequence[Point]) -> bool:
    """A shape is in normalised 0..1 frame units when every coordinate is <= 1.0."""
    return all(x <= NORMALISED_MAX and y <= NORMALISED_MAX for x, y in points)


def to_pixels(points: Sequence[Point], width: int, height: int) -> tuple[Point, ...]:
    """The shape in pixels: normalised shapes are scaled by the frame size, pixel shapes returned as is."""
    if is_normalised(points):
        return tuple((x * width, y * height) for x, y in points)
    return tuple((float(x), float(y)) for x, y in points)


def polygon_area(points: Sequence[Point]) -> float:
    """Absolute area of a simple polygon (shoelace formula); 0 for degenerate ones."""
    total = 0.0
    n = len(points)
    for i in range(n):
        x1, y1 = points[i - 1]
        x2, y2 = points[i]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def touches_edge(box: BBox, width: int, height: int, margin_px: float = 0.0) -> bool:
    """True when the box reaches within `margin_px` of a frame edge (the object is likely cut off)."""
    return box.x1 <= margin_px or box.y1 <= margin_px or box.x2 >= width - margin_px or box.y2 >= height - margin_px


def nms(
    boxes: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    iou_threshold: float,
    max_keep: int,
) -> npt.NDArray[np.int64]:
    """Greedy per-class non-maximum suppression. Returns the kept indices, best score first.

    A box is dropped when its IoU with a better-scored kept box OF THE SAME CLASS is above
    `iou_threshold`; at most `max_keep` indices are returned. Boxes are xyxy."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0)
    keep: list[int] = []
    while order.size > 0 and len(keep) < max_keep:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        inter_w = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0.0)
        inter_h = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0.0)
        inter = inter_w * inter_h
        union = np.maximum(areas[best] + areas[rest] - inter, np.finfo(np.float32).tiny)
        suppressed = (inter / union > iou_threshold) & (class_ids[rest] == class_ids[best])
        order = rest[~suppressed]
    return np.asarray(keep, dtype=np.int64)
