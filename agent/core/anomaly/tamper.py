"""Camera tamper: blackout, defocus, covered lens and camera moved, judged on a
small grey frame against baselines the detector learns slowly.

Pure (cv2/numpy arithmetic only). The analytics thread calls it through
AnomalyEngine at the tamper check rate; `tamper_grey` is the caller's downscale."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from agent.config.anomaly import TamperConfig
from agent.core.anomaly.common import AnomalyBook, Latch
from agent.types import Anomaly, Image

FloatImage = npt.NDArray[np.float32]
EDGE_MAP_SIZE = (64, 36)  # coarse gradient map compared with the reference: small shifts of content average out
EDGE_MIN_MAGNITUDE = 24.0  # Sobel magnitude (of a 0-255 image) counted as an edge pixel
# Histogram bins on log(grey + 8): a dimmer scene shifts the histogram instead of squeezing it into
# fewer bins, so dusk does not look uniform while a flat occluder still fills one bin. ~8 levels at mid-grey.
LOG_BIN_WIDTH = 0.0625
LOG_BIN_LUT = np.floor(np.log(np.arange(256, dtype=np.float64) + 8.0) / LOG_BIN_WIDTH).astype(np.uint8)
LOG_BIN_LUT = (LOG_BIN_LUT - LOG_BIN_LUT[0]).astype(np.uint8)
SHARPNESS_VAR_FLOOR = 4.0  # grey variance floor so a flat frame does not divide by ~0
KINDS = ("blackout", "covered", "blur", "moved")


@dataclass(frozen=True, slots=True)
class TamperFeatures:
    """Cheap statistics of one grey frame. `edge_map` is a zero-mean, unit-norm coarse gradient map."""

    mean: float
    std: float
    sharpness: float  # var(Laplacian) / var(grey): contrast-invariant focus measure
    uniform_fraction: float  # pixels within one log-luminance bin either side of the dominant level
    edge_density: float
    edge_map: FloatImage


def tamper_grey(bgr: Image, width_px: int) -> Image:
    """Downscale a BGR frame (aspect kept) then convert to grey: the cheap order.

    Exact halvings with INTER_LINEAR average 2x2 blocks at a fraction of INTER_AREA's cost on
    a large frame; INTER_AREA finishes on the small remainder."""
    small: Image = bgr
    while small.shape[1] >= 4 * width_px:
        half = (small.shape[1] // 2, small.shape[0] // 2)
        small = np.asarray(cv2.resize(small, half, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    height, width = small.shape[:2]
    size = (width_px, max(1, round(height * width_px / width)))
    final = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(final, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def tamper_features(grey: Image) -> TamperFeatures:
    """Compute TamperFeatures of a small uint8 grey frame (e.g. 320x180)."""
    mean, std = (float(v[0][0]) for v in cv2.meanStdDev(grey))
    lap = cv2.Laplacian(grey, cv2.CV_16S, ksize=1)
    sharpness = float(np.var(lap, dtype=np.float64)) / max(std * std, SHARPNESS_VAR_FLOOR)
    hist = np.bincount(cv2.LUT(grey, LOG_BIN_LUT).ravel(), minlength=int(LOG_BIN_LUT[-1]) + 1).astype(np.float64)
    peak = int(np.argmax(hist))
    uniform = float(hist[max(0, peak - 1) : peak + 2].sum() / grey.size)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    edge_density = float(np.count_nonzero(magnitude > EDGE_MIN_MAGNITUDE) / grey.size)
    coarse_magnitude = np.asarray(cv2.resize(magnitude, EDGE_MAP_SIZE, interpolation=cv2.INTER_AREA), dtype=np.float32)
    # Brightness normalisation: a gain change becomes an offset in log, removed by zero-mean, then unit-norm.
    log_map: FloatImage = np.log1p(coarse_magnitude)
    coarse = log_map - np.float32(log_map.mean())
    norm = float(np.linalg.norm(coarse))
    edge_map = (coarse / norm if norm > 1e-6 else np.zeros_like(coarse)).astype(np.float32)
    return TamperFeatures(mean, std, sharpness, uniform, edge_density, edge_map)


def edge_match(a: FloatImage, b: FloatImage) -> float:
    """Normalised correlation of two edge maps (1 = same scene)."""
    norm = float(np.linalg.norm(a)) * float(np.linalg.norm(b))
    return float(np.sum(a * b) / norm) if norm > 1e-9 else 0.0


class TamperDetector:
    """Per-camera tamper state: the sharpness baseline, the scene reference and one latch per kind."""

    def __init__(self, cfg: TamperConfig, book: AnomalyBook) -> None:
        self._cfg = cfg
        self._book = book
        self._latches = {kind: Latch(cfg.sustain_s, cfg.resolve_s) for kind in KINDS}
        self._first_ts: float | None = None
        self._last_ts: float | None = None
        self._log_sharpness: float | None = None
        self._reference: FloatImage | None = None

    def update(self, ts: float, feats: TamperFeatures) -> list[Anomaly]:
        cfg = self._cfg
        if self._first_ts is None:
            self._first_ts = ts
        warm = ts - self._first_ts >= cfg.warmup_s
        ratio = self._sharpness_ratio(feats)
        match = edge_match(feats.edge_map, self._reference) if self._reference is not None else 1.0
        black = feats.mean <= cfg.blackout_max_mean
        covered = not black and feats.uniform_fraction >= cfg.covered_min_uniform
        lost_view = black or covered or self._latches["blackout"].on or self._latches["covered"].on
        blurred = ratio <= cfg.blur_max_ratio or self._latches["blur"].on  # defocus also lowers the edge match
        conditions = {
            "blackout": (black, feats.mean > cfg.blackout_resolve_mean),
            "covered": (covered, feats.uniform_fraction < cfg.covered_resolve_uniform),
            "blur": (warm and not lost_view and ratio <= cfg.blur_max_ratio, ratio > cfg.blur_resolve_ratio),
            "moved": (
                warm and not lost_view and not blurred and match <= cfg.moved_max_match,
                match > cfg.moved_resolve_match,
            ),
        }
        observed = {"blackout": feats.mean, "covered": feats.uniform_fraction, "blur": ratio, "moved": match}
        out: list[Anomaly] = []
        for kind, (firing, clear) in conditions.items():
            change = self._latches[kind].step(ts, firing, clear)
            out.extend(self._emit(kind, change, ts, observed[kind]))
        if self._latches["moved"].on and ts - self._latches["moved"].started_ts >= cfg.rebase_after_s:
            # The camera was re-aimed for good: accept the new view as the scene.
            self._reference = feats.edge_map.copy()
            self._latches["moved"].reset()
            out.extend(self._emit("moved", False, ts, 1.0))
        if (
            not any(latch.on or latch.since is not None for latch in self._latches.values())
            and not black
            and not covered
        ):
            self._learn(ts, feats)
        self._last_ts = ts
        return out

    def _sharpness_ratio(self, feats: TamperFeatures) -> float:
        if self._log_sharpness is None or feats.sharpness <= 0:
            return 1.0
        return feats.sharpness / math.exp(self._log_sharpness)

    def _learn(self, ts: float, feats: TamperFeatures) -> None:
        """Fold a healthy frame into the baselines with an EMA of time constant reference_tau_s."""
        dt_s = 0.0 if self._last_ts is None else max(0.0, ts - self._last_ts)
        alpha = 1.0 - math.exp(-dt_s / self._cfg.reference_tau_s)
        if self._first_ts is not None and ts - self._first_ts < self._cfg.warmup_s:
            alpha = max(alpha, 0.2)  # learn fast while warming up
        log_sharp = math.log(max(feats.sharpness, 1e-6))
        if self._log_sharpness is None or self._reference is None:
            self._log_sharpness, self._reference = log_sharp, feats.edge_map.copy()
            return
        self._log_sharpness += alpha * (log_sharp - self._log_sharpness)
        self._reference = ((1.0 - alpha) * self._reference + alpha * feats.edge_map).astype(np.float32)

    def _emit(self, kind: str, change: bool | None, ts: float, observed: float) -> list[Anomaly]:
        key = ("tamper", kind)
        cfg = self._cfg
        thresholds = {
            "blackout": cfg.blackout_max_mean,
            "covered": cfg.covered_min_uniform,
            "blur": cfg.blur_max_ratio,
            "moved": cfg.moved_max_match,
        }
        details: dict[str, float | str] = {"observed": round(observed, 4), "threshold": thresholds[kind]}
        if change is True:
            details["expected"] = "above threshold" if kind in ("blackout", "blur", "moved") else "below threshold"
            opened = self._book.open(key, f"tamper_{kind}", cfg.severity, self._latches[kind].started_ts, details)
            return [opened] if opened else []
        if change is False:
            closed = self._book.close(key, ts, {"resolved_observed": round(observed, 4)})
            return [closed] if closed else []
        return []

    def reset(self) -> None:
        for latch in self._latches.values():
            latch.reset()
