"""Motion gate: finds the moving parts of a frame cheaply, and decides whether the detector runs.

MotionDetector differences a small grey copy of each frame against a running-average
background; MotionGate is the per-frame policy. Each camera's DetectionStage owns one of
each and calls them on a detector thread. No clock reads and no threads: time comes in as
an argument."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from agent.config.perf import MotionConfig
from agent.geometry import to_pixels
from agent.types import BBox, Image

KEEP = 1  # value of mask pixels where motion counts
MAX_GREY = 255.0
# Frame grey levels trusted for the brightness fit: clipped highlights and shadows do not follow it.
UNCLIPPED_GREY = (3.0, 252.0)
DILATE_KERNEL = np.ones((3, 3), dtype=np.uint8)
# Below this grey-level spread the background is too flat (black, covered lens) to fit a brightness map to.
MIN_STD_GREY = 1.0
BGR_NDIM = 3

Grey32 = npt.NDArray[np.float32]
DownscaleStage = tuple[tuple[int, int], npt.NDArray[np.uint8]]


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What moved in one frame. `boxes` are in pixels of the analysed frame.

    `changed_fraction` is the share of unmasked pixels that differ from the background
    (before dilation). `lighting_change` marks a frame taken as a global lighting change:
    the background was reset to it and no motion is reported."""

    moving: bool
    boxes: tuple[BBox, ...]
    changed_fraction: float
    lighting_change: bool = False


NO_MOTION = MotionResult(moving=False, boxes=(), changed_fraction=0.0)


def plan_downscale(frame_size: tuple[int, int], small_size: tuple[int, int]) -> tuple[DownscaleStage, ...]:
    """Resize steps from the frame to the motion size, each with its preallocated BGR buffer.

    Exact halvings with INTER_LINEAR average 2x2 pixels, so the chain matches INTER_AREA within
    one grey level at integer ratios while costing about a third (INTER_AREA is slow on BGR);
    the last step, at a ratio below 2, is bilinear."""
    width, height = frame_size
    small_w, small_h = small_size
    stages: list[DownscaleStage] = []
    while width >= 2 * small_w and height >= 2 * small_h:
        width, height = width // 2, height // 2
        stages.append(((width, height), np.empty((height, width, 3), dtype=np.uint8)))
    # With no halving needed, still copy: the caller's frame must never be aliased.
    if (width, height) != small_size or not stages:
        stages.append((small_size, np.empty((small_h, small_w, 3), dtype=np.uint8)))
    return tuple(stages)


class MotionDetector:
    """Running-average background subtraction on a downscaled grey frame, both sides blurred.

    Global brightness changes are cancelled by mapping the background linearly onto the
    frame's brightness (mean and contrast) before differencing; whatever still changes over
    more than `lighting_change_fraction` of the frame resets the background (day/night switch)."""

    def __init__(self, cfg: MotionConfig, frame_size: tuple[int, int]) -> None:
        width, height = frame_size
        if width < 1 or height < 1:
            raise ValueError(f"frame_size must be (width, height) in pixels >= 1, got {frame_size}")
        self._cfg = cfg
        self.frame_size = (width, height)
        small_w = min(cfg.frame_width_px, width)
        small_h = max(1, round(height * small_w / width))
        self._small_size = (small_w, small_h)
        self._scale = (width / small_w, height / small_h)
        self._stages = plan_downscale(frame_size, self._small_size)
        self._grey = np.empty((small_h, small_w), dtype=np.uint8)
        self._current: Grey32 = np.empty((small_h, small_w), dtype=np.float32)
        self._background: Grey32 = np.empty((small_h, small_w), dtype=np.float32)
        self._diff: Grey32 = np.empty((small_h, small_w), dtype=np.float32)
        self._expected: Grey32 = np.empty((small_h, small_w), dtype=np.float32)
        self._changed_flags = np.empty((small_h, small_w), dtype=np.bool_)
        self._changed = self._changed_flags.view(np.uint8)  # 1 where changed: what OpenCV reads
        self._fit = np.empty((small_h, small_w), dtype=np.uint8)
        self._keep = self._build_keep_mask()
        self._counted_px = small_w * small_h if self._keep is None else cv2.countNonZero(self._keep)
        if self._counted_px == 0:
            raise ValueError("the motion mask covers the whole frame, so no motion could ever be seen; shrink it")
        self._min_area_small_px = cfg.min_area_fraction * small_w * small_h
        self._ready = False

    def _build_keep_mask(self) -> npt.NDArray[np.uint8] | None:
        """KEEP where motion counts, 0 inside the ignore polygons; None without polygons."""
        if not self._cfg.mask:
            return None
        width, height = self.frame_size
        small_w, small_h = self._small_size
        keep = np.full((small_h, small_w), KEEP, dtype=np.uint8)
        for polygon in self._cfg.mask:
            points = [(x * small_w / width, y * small_h / height) for x, y in to_pixels(polygon, width, height)]
            contour = np.round(np.array(points, dtype=np.float64)).astype(np.int32)
            # fillPoly includes the outline, so border pixels of the polygon are ignored too.
            cv2.fillPoly(keep, [contour], 0)
        return keep

    def reset(self) -> None:
        """Forget the background: the next frame becomes it (after a reconnect or a seek)."""
        self._ready = False

    def update(self, frame_bgr: Image) -> MotionResult:
        """Compare one BGR frame with the background, then blend it into the background."""
        self._check_shape(frame_bgr)
        self._prepare(frame_bgr)
        if not self._ready:
            np.copyto(self._background, self._current)
            self._ready = True
            return NO_MOTION
        self._match_brightness()
        changed_fraction = self._threshold()
        if changed_fraction > self._cfg.lighting_change_fraction:
            np.copyto(self._background, self._current)
            return MotionResult(moving=False, boxes=(), changed_fraction=changed_fraction, lighting_change=True)
        boxes = self._boxes() if changed_fraction > 0.0 else ()
        cv2.accumulateWeighted(self._current, self._background, self._cfg.background_alpha)
        return MotionResult(moving=bool(boxes), boxes=boxes, changed_fraction=changed_fraction)

    def _check_shape(self, frame_bgr: Image) -> None:
        width, height = self.frame_size
        if frame_bgr.ndim != BGR_NDIM or frame_bgr.shape[0] != height or frame_bgr.shape[1] != width:
            raise ValueError(
                f"frame shape {frame_bgr.shape} does not match this MotionDetector's {width}x{height} BGR frames; "
                "build a new MotionDetector when the camera's resolution changes"
            )

    def _prepare(self, frame_bgr: Image) -> None:
        """Downscale first (averaging also denoises), then grey and float."""
        source = frame_bgr
        for size, buffer in self._stages:
            cv2.resize(source, size, dst=buffer, interpolation=cv2.INTER_LINEAR)
            source = buffer
        cv2.cvtColor(source, cv2.COLOR_BGR2GRAY, dst=self._grey)
        np.copyto(self._current, self._grey)

    def _blur(self, source: Grey32, dst: Grey32) -> None:
        kernel = self._cfg.blur_kernel_px
        if kernel > 1:
            cv2.GaussianBlur(source, (kernel, kernel), 0, dst=dst)
        elif dst is not source:
            np.copyto(dst, source)

    def _match_brightness(self) -> None:
        """Map the background onto the frame's brightness mean and contrast (a linear fit over the
        frame's unclipped pixels), which cancels exposure, gain and black-level changes."""
        cv2.inRange(self._current, UNCLIPPED_GREY[0], UNCLIPPED_GREY[1], dst=self._fit)
        if self._keep is not None:
            cv2.bitwise_and(self._fit, self._keep, dst=self._fit)
        background_mean, background_std = cv2.meanStdDev(self._background, mask=self._fit)
        if background_std[0, 0] < MIN_STD_GREY:
            return
        frame_mean, frame_std = cv2.meanStdDev(self._current, mask=self._fit)
        gain = float(frame_std[0, 0] / background_std[0, 0])
        offset = float(frame_mean[0, 0] - gain * background_mean[0, 0])
        cv2.addWeighted(self._background, gain, self._background, 0.0, offset, dst=self._background)

    def _threshold(self) -> float:
        """Mark changed pixels in self._changed; return their share of the unmasked pixels."""
        # The frame cannot leave 0..255, so neither may the background it is compared with
        # (otherwise highlights clipped by a brighter exposure would count as change). Clip
        # before blurring, in the same order the frame went through.
        np.clip(self._background, 0.0, MAX_GREY, out=self._expected)
        self._blur(self._expected, self._expected)
        self._blur(self._current, self._diff)
        cv2.absdiff(self._diff, self._expected, dst=self._diff)
        np.greater(self._diff, self._cfg.pixel_threshold, out=self._changed_flags)
        if self._keep is not None:
            cv2.bitwise_and(self._changed, self._keep, dst=self._changed)
        return float(cv2.countNonZero(self._changed)) / self._counted_px

    def _boxes(self) -> tuple[BBox, ...]:
        """Bounding boxes of the dilated changed areas, largest first, scaled to frame pixels."""
        if self._cfg.dilate_iterations > 0:
            cv2.dilate(self._changed, DILATE_KERNEL, dst=self._changed, iterations=self._cfg.dilate_iterations)
        contours, _ = cv2.findContours(self._changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        scale_x, scale_y = self._scale
        boxes: list[BBox] = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < self._min_area_small_px:
                continue
            boxes.append(BBox(x * scale_x, y * scale_y, (x + w) * scale_x, (y + h) * scale_y))
        boxes.sort(key=lambda box: box.area, reverse=True)
        return tuple(boxes)


class MotionGate:
    """Decides per frame whether the detector runs: on motion; for the first frame; every
    `recheck_interval_s` while tracks are active (stationary objects keep their events alive);
    every `idle_recheck_interval_s` otherwise (0 disables). Always, when motion is disabled.

    It also keeps the camera's reported motion state: ON from a moving frame until `off_delay_s`
    without one (never ON while motion is disabled: then no frame is analysed for motion)."""

    def __init__(self, cfg: MotionConfig) -> None:
        self._cfg = cfg
        self._last_detect_mono: float | None = None
        # Written by the detector thread that holds the camera, read by the analytics thread:
        # one float reference, so a reader sees the previous or the new value, never half.
        self._last_motion_mono: float | None = None

    def observe(self, motion: MotionResult, ts_mono: float) -> None:
        """Record a frame's motion result (every analysed frame, detected or not)."""
        if self._cfg.enabled and motion.moving:
            self._last_motion_mono = ts_mono

    def motion_active(self, ts_mono: float) -> bool:
        """Whether motion counts as ON at `ts_mono`: a moving frame at most `off_delay_s` earlier."""
        last = self._last_motion_mono
        return last is not None and ts_mono - last <= self._cfg.off_delay_s

    def should_detect(self, motion: MotionResult, active_tracks: int, ts_mono: float) -> bool:
        """True when the detector should run on this frame. Does not change state."""
        if not self._cfg.enabled or motion.moving or self._last_detect_mono is None:
            return True
        since_s = ts_mono - self._last_detect_mono
        if active_tracks > 0:
            return since_s >= self._cfg.recheck_interval_s
        idle_s = self._cfg.idle_recheck_interval_s
        return idle_s > 0.0 and since_s >= idle_s

    def mark_detected(self, ts_mono: float) -> None:
        """Record that the detector ran on a frame taken at `ts_mono`."""
        self._last_detect_mono = ts_mono
