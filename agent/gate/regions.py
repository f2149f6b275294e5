"""Region planning: which parts of a large frame the detector sees, and mapping results back.

Square crops of at least the model's input size are planned around motion and track boxes,
merged when their crops overlap and one crop costs no more pixels than two, clamped inside
the frame and capped per frame. Detections found in crops are mapped to frame pixels and
merged by class-wise NMS (agent.geometry.nms).
Pure: called by a detector thread between the motion gate and the detector."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from agent.config.perf import RegionMode, RegionsConfig
from agent.geometry import nms
from agent.types import BBox, Detection, Image

Rect = tuple[float, float, float, float]  # x1, y1, x2, y2 of a cluster of boxes, frame pixels
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the frame handed to the detector, in integer frame pixels (x2, y2 exclusive)."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def box(self) -> BBox:
        return BBox(float(self.x1), float(self.y1), float(self.x2), float(self.y2))

    def crop(self, image: Image) -> Image:
        """A view (no copy) of this region of a frame."""
        return image[self.y1 : self.y2, self.x1 : self.x2]

    def contains(self, other: Region) -> bool:
        return self.x1 <= other.x1 and self.y1 <= other.y1 and self.x2 >= other.x2 and self.y2 >= other.y2


def full_frame(frame_w: int, frame_h: int) -> Region:
    return Region(0, 0, frame_w, frame_h)


def plan_regions(
    mode: RegionMode,
    frame_w: int,
    frame_h: int,
    model_size: int,
    motion_boxes: Sequence[BBox],
    track_boxes: Sequence[BBox],
    cfg: RegionsConfig,
) -> tuple[Region, ...]:
    """The regions to run the detector on for one frame; always at least one.

    The whole frame when: mode is full_frame; there are no boxes; auto mode and the frame's
    short side is below cfg.auto_min_scale x model_size; or a crop covering some box would not
    fit inside the frame. Otherwise square crops (side >= model_size) covering every box,
    at most cfg.max_regions, sorted top-left first. `mode` usually is cfg.mode; a caller may
    force full_frame (e.g. for a periodic full scan)."""
    if frame_w < 1 or frame_h < 1 or model_size < 1:
        raise ValueError(f"frame size and model size must be >= 1, got {frame_w}x{frame_h}, model {model_size}")
    whole = (full_frame(frame_w, frame_h),)
    boxes = [b.clipped(frame_w, frame_h) for b in (*motion_boxes, *track_boxes)]
    boxes = [b for b in boxes if b.area > 0.0]
    short_side = min(frame_w, frame_h)
    if mode == RegionMode.FULL_FRAME or not boxes or model_size > short_side:
        return whole
    if mode == RegionMode.AUTO and short_side < cfg.auto_min_scale * model_size:
        return whole
    clusters = _cluster(boxes, model_size, cfg)
    regions = [_place(cluster, model_size, cfg.box_padding_fraction, frame_w, frame_h) for cluster in clusters]
    if any(region is None for region in regions):
        return whole
    placed = sorted({region for region in regions if region is not None}, key=lambda r: (r.y1, r.x1, -r.width))
    # Clamping at the frame edge can push one crop inside another: running it would add nothing.
    kept = [r for r in placed if not any(other != r and other.contains(r) for other in placed)]
    return tuple(kept)


def _sides(rects: FloatArray, model_size: int, padding: float) -> FloatArray:
    """Side of the square crop of each (N, 4) xyxy cluster: its padded larger side, at least the model input."""
    span = np.maximum(rects[:, 2] - rects[:, 0], rects[:, 3] - rects[:, 1])
    sides: FloatArray = np.maximum(float(model_size), span * (1.0 + 2.0 * padding))
    return sides


def _pair_savings(a: FloatArray, b: FloatArray, model_size: int, padding: float) -> tuple[FloatArray, BoolArray]:
    """For every cluster pair of `a` (M, 4) and `b` (K, 4): crop pixels saved by one crop for both instead of
    two (negative: the merge costs more), and whether their two crops overlap. Both (M, K)."""
    side_a, side_b = _sides(a, model_size, padding), _sides(b, model_size, padding)
    union = np.stack(
        (
            np.minimum.outer(a[:, 0], b[:, 0]),
            np.minimum.outer(a[:, 1], b[:, 1]),
            np.maximum.outer(a[:, 2], b[:, 2]),
            np.maximum.outer(a[:, 3], b[:, 3]),
        ),
        axis=-1,
    )
    side_union = _sides(union.reshape(-1, 4), model_size, padding).reshape(union.shape[:2])
    savings: FloatArray = side_a[:, None] ** 2 + side_b[None, :] ** 2 - side_union**2
    reach = (side_a[:, None] + side_b[None, :]) / 2.0
    centre_dx = np.abs(np.subtract.outer(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])) / 2.0
    centre_dy = np.abs(np.subtract.outer(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])) / 2.0
    overlap: BoolArray = (centre_dx < reach) & (centre_dy < reach)
    return savings, overlap


def _union(a: Rect, b: Rect) -> Rect:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _cluster(boxes: list[BBox], model_size: int, cfg: RegionsConfig) -> list[Rect]:
    """Group boxes whose crops overlap when one crop for both costs no more pixels than two;
    then merge the cheapest pairs, overlapping or not, until at most cfg.max_regions remain."""
    padding = cfg.box_padding_fraction
    clusters: list[Rect] = []
    for box in sorted(boxes, key=lambda b: b.area, reverse=True):
        clusters.append((box.x1, box.y1, box.x2, box.y2))
        _absorb(clusters, len(clusters) - 1, model_size, padding)
    while len(clusters) > cfg.max_regions:
        rects = np.array(clusters, dtype=np.float64)
        savings, _ = _pair_savings(rects, rects, model_size, padding)
        np.fill_diagonal(savings, -np.inf)
        first, second = sorted(int(v) for v in np.unravel_index(int(np.argmax(savings)), savings.shape))
        clusters[first] = _union(clusters[first], clusters[second])
        del clusters[second]
        _absorb(clusters, first, model_size, padding)
    return clusters


def _absorb(clusters: list[Rect], index: int, model_size: int, padding: float) -> None:
    """Merge clusters[index] with the overlapping cluster that saves the most pixels, repeatedly,
    while some merge saves pixels (>= 0)."""
    while len(clusters) > 1:
        rects = np.array(clusters, dtype=np.float64)
        savings, overlap = _pair_savings(rects[index : index + 1], rects, model_size, padding)
        allowed = overlap[0] & (savings[0] >= 0.0)
        allowed[index] = False
        if not allowed.any():
            return
        other = int(np.argmax(np.where(allowed, savings[0], -np.inf)))
        clusters[other] = _union(clusters[other], clusters[index])
        del clusters[index]
        index = other if other < index else other - 1


def _place(cluster: Rect, model_size: int, padding: float, frame_w: int, frame_h: int) -> Region | None:
    """The integer square crop covering `cluster`, shifted inside the frame; None if it cannot fit."""
    x1, y1, x2, y2 = cluster
    span = max(math.ceil(x2) - math.floor(x1), math.ceil(y2) - math.floor(y1))
    padded = float(_sides(np.array([cluster], dtype=np.float64), model_size, padding)[0])
    side = max(math.ceil(padded), span)
    if side > min(frame_w, frame_h):
        return None
    left = _start(x1, x2, side, frame_w)
    top = _start(y1, y2, side, frame_h)
    return Region(left, top, left + side, top + side)


def _start(low: float, high: float, side: int, limit: int) -> int:
    """Start of a span of `side` centred on [low, high], still covering it, inside [0, limit]."""
    centred = math.floor((low + high) / 2.0 - side / 2.0)
    covering = min(max(centred, math.ceil(high) - side), math.floor(low))
    return min(max(covering, 0), limit - side)


def map_box_from_region(box: BBox, region: Region) -> BBox:
    """A box in pixels of a region's crop, in pixels of the frame (clipped to the region)."""
    local = box.clipped(region.width, region.height)
    return BBox(local.x1 + region.x1, local.y1 + region.y1, local.x2 + region.x1, local.y2 + region.y1)


def map_detections_from_region(detections: Iterable[Detection], region: Region) -> tuple[Detection, ...]:
    return tuple(replace(d, box=map_box_from_region(d.box, region)) for d in detections)


def merge_detections(detections: Sequence[Detection], iou_threshold: float) -> tuple[Detection, ...]:
    """One detection per object seen by several overlapping regions: class-wise NMS, best score first.

    Detections must already be in frame pixels (map_detections_from_region)."""
    if len(detections) < 2:
        return tuple(detections)
    boxes = np.array([(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in detections], dtype=np.float32)
    scores = np.array([d.score for d in detections], dtype=np.float32)
    class_ids = np.array([d.class_id for d in detections], dtype=np.int64)
    keep = nms(boxes, scores, class_ids, iou_threshold, max_keep=len(detections))
    return tuple(detections[int(i)] for i in keep)
