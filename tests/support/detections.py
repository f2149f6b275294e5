"""Checks of published detections messages that the end-to-end tests share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def assert_inside_frame(frames: Sequence[dict[str, Any]], size: tuple[int, int], min_score: float) -> None:
    """Every frame has the source's size; every box lies inside it with area, scored at least `min_score`,
    with a real label."""
    width, height = size
    for frame in frames:
        assert (frame["width"], frame["height"]) == size
        for det in frame["detections"]:
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 < x2 <= width
            assert 0 <= y1 < y2 <= height
            assert det["score"] >= min_score
            assert det["label"] != "???"
