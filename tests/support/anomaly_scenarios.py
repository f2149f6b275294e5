"""Labelled anomaly scenarios for AnomalyEngine: real video transformed by code
(blackout, blur, occluder, shifted or rotated view, frozen, dropped and missing
frames, a dusk ramp, plain footage) and scripted tracks or counts for the other kinds.

Shared by tools/anomaly_eval.py and tests/unit/test_anomaly_scenarios.py. Pure apart from
decoding the video it is handed; it never locates assets itself."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly import AnomalyEngine, StreamStatus
from agent.types import Anomaly, BBox, Image, Track, TrackState

WORK_WIDTH_PX = 640  # decoded frames are kept grey at this width; transforms run here, then the tamper downscale
SAMPLE_FPS = 5.0
FPS_WINDOW_S = 2.0
T0 = 1_717_200_000.0  # 2024-06-01 00:00 UTC, a Saturday
TAMPER_ON_S, TAMPER_OFF_S = 30.0, 50.0


@dataclass(frozen=True, slots=True)
class Window:
    """An expected anomaly of `kind`, from start_s to end_s seconds after the scenario's t0."""

    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Step:
    ts: float
    tracks: tuple[Track, ...] = ()
    zones: dict[int, tuple[str, ...]] = field(default_factory=dict)
    grey: Image | None = None
    status: StreamStatus | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    cfg: AnomalyConfig
    t0: float
    steps: Callable[[], Iterator[Step]]
    expected: tuple[Window, ...]


@dataclass(frozen=True, slots=True)
class Detection:
    kind: str
    emitted_s: float  # seconds after t0 when the active message came out
    resolved_s: float | None


@dataclass(frozen=True, slots=True)
class Clip:
    """Grey frames of a real video sampled at SAMPLE_FPS; played back and forth to any length."""

    name: str
    frames: tuple[Image, ...]

    def at(self, t_s: float) -> Image:
        n = len(self.frames)
        i = round(t_s * SAMPLE_FPS) % (2 * n - 2)
        return self.frames[i if i < n else 2 * n - 2 - i]


def load_clip(path: Path, max_s: float | None = None) -> Clip:
    """Decode `path` once, keeping grey frames at WORK_WIDTH_PX sampled at SAMPLE_FPS."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    step = max(1, round(cap.get(cv2.CAP_PROP_FPS) / SAMPLE_FPS))
    frames: list[Image] = []
    try:
        for i in itertools.count():
            ok, bgr = cap.read()
            if not ok or (max_s is not None and len(frames) >= max_s * SAMPLE_FPS):
                break
            if i % step == 0:
                h, w = bgr.shape[:2]
                small = cv2.resize(bgr, (WORK_WIDTH_PX, round(h * WORK_WIDTH_PX / w)), interpolation=cv2.INTER_AREA)
                frames.append(np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), dtype=np.uint8))
    finally:
        cap.release()
    return Clip(path.stem, tuple(frames))


# ---- transforms of one grey work frame: (frame, seconds since t0) -> frame
Transform = Callable[[Image, float], Image]


def _during(inner: Transform) -> Transform:
    def apply(grey: Image, t_s: float) -> Image:
        return inner(grey, t_s) if TAMPER_ON_S <= t_s < TAMPER_OFF_S else grey

    return apply


def _blackout(grey: Image, t_s: float) -> Image:
    fade = max(0.03, 1.0 - (t_s - TAMPER_ON_S) / 0.5)  # lights off / lens capped within half a second
    return np.asarray(grey * fade, dtype=np.uint8)


def _blur(grey: Image, _t: float) -> Image:
    return np.asarray(cv2.GaussianBlur(grey, (0, 0), 4.0), dtype=np.uint8)


def _occluder(grey: Image, _t: float) -> Image:
    out = grey.copy()
    out[:, : int(out.shape[1] * 0.8)] = 55  # a flat object over 80 % of the view
    return out


def _warp(matrix: Callable[[int, int], np.ndarray]) -> Transform:
    def apply(grey: Image, _t: float) -> Image:
        h, w = grey.shape
        return np.asarray(cv2.warpAffine(grey, matrix(w, h), (w, h), borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)

    return apply


_shift = _warp(lambda w, h: np.array([[1, 0, 0.08 * w], [0, 1, 0.03 * h]], dtype=np.float32))
_rotate = _warp(lambda w, h: cv2.getRotationMatrix2D((w / 2, h / 2), 8.0, 1.0))


def _dusk(duration_s: float) -> Transform:
    def apply(grey: Image, t_s: float) -> Image:
        return np.asarray(grey * (1.0 - 0.7 * min(1.0, t_s / duration_s)), dtype=np.uint8)

    return apply


def _video_steps(clip: Clip, duration_s: float, transform: Transform, fault: str = "") -> Callable[[], Iterator[Step]]:
    """Steps at SAMPLE_FPS; `fault` simulates the capture side: frozen, fps (1 in 5 delivered) or offline."""
    tamper_width = AnomalyConfig().tamper.grey_width_px

    def steps() -> Iterator[Step]:
        delivered: list[float] = []
        previous: Image | None = None
        for i in range(round(duration_s * SAMPLE_FPS)):
            t_s = i / SAMPLE_FPS
            faulty = TAMPER_ON_S <= t_s < TAMPER_OFF_S and fault != ""
            if faulty and fault == "offline":
                if i % round(SAMPLE_FPS) == 0:  # the caller still ticks the engine about once a second
                    yield Step(T0 + t_s, status=StreamStatus(online=False, fps=0.0, nominal_fps=SAMPLE_FPS))
                continue
            if faulty and fault == "fps" and i % 5:
                continue
            source_t = TAMPER_ON_S if faulty and fault == "frozen" else t_s
            work = transform(clip.at(source_t), t_s)
            h, w = work.shape
            grey = np.asarray(
                cv2.resize(work, (tamper_width, round(h * tamper_width / w)), interpolation=cv2.INTER_AREA),
                dtype=np.uint8,  # a no-op: the resize keeps the 8-bit grey frame's dtype
            )
            delivered = [d for d in delivered if t_s - d <= FPS_WINDOW_S] + [t_s]
            span = delivered[-1] - delivered[0]
            fps = (len(delivered) - 1) / span if span > 0 else SAMPLE_FPS
            frozen = previous is not None and np.array_equal(previous, grey)
            previous = grey
            status = StreamStatus(online=True, frozen=frozen, fps=fps, nominal_fps=SAMPLE_FPS)
            yield Step(T0 + t_s, grey=grey, status=status)

    return steps


def video_scenarios(clip: Clip, duration_s: float = 70.0) -> list[Scenario]:
    """Tamper and stream scenarios on one real clip: faults from 30 s to 50 s, then recovery."""
    cfg = AnomalyConfig()
    on, off = TAMPER_ON_S, TAMPER_OFF_S
    table: list[tuple[str, Transform, str, tuple[Window, ...]]] = [
        ("blackout", _during(_blackout), "", (Window("tamper_blackout", on, off),)),
        ("blur", _during(_blur), "", (Window("tamper_blur", on, off),)),
        ("covered", _during(_occluder), "", (Window("tamper_covered", on, off),)),
        ("shifted", _during(_shift), "", (Window("tamper_moved", on, off),)),
        ("rotated", _during(_rotate), "", (Window("tamper_moved", on, off),)),
        ("frozen", lambda g, _t: g, "frozen", (Window("stream_frozen", on, off),)),
        ("fps_collapse", lambda g, _t: g, "fps", (Window("stream_fps_low", on, off),)),
        ("offline", lambda g, _t: g, "offline", (Window("stream_offline", on, off),)),
        ("dusk", _dusk(duration_s), "", ()),
        ("normal", lambda g, _t: g, "", ()),
    ]
    return [
        Scenario(f"{clip.name}:{name}", cfg, T0, _video_steps(clip, duration_s, transform, fault), windows)
        for name, transform, fault, windows in table
    ]


def run_scenario(scenario: Scenario) -> list[Detection]:
    """Feed every step to a fresh engine, then resolve what is still open at the end."""
    ids = itertools.count(1)
    engine = AnomalyEngine("cam", scenario.cfg, lambda: f"a{next(ids)}")
    opened: dict[str, tuple[str, float]] = {}
    done: list[Detection] = []

    def take(changes: list[Anomaly], ts: float) -> None:
        for a in changes:
            if a.active:
                opened[a.anomaly_id] = (a.kind, ts - scenario.t0)
            elif a.anomaly_id in opened:
                kind, emitted = opened.pop(a.anomaly_id)
                done.append(Detection(kind, emitted, ts - scenario.t0))

    for step in scenario.steps():
        take(engine.update(step.ts, step.tracks, step.zones, step.grey, step.status), step.ts)
    done.extend(Detection(kind, emitted, None) for kind, emitted in opened.values())
    return done


def track(track_id: int, label: str, ts: float, first_seen: float) -> Track:
    """A confirmed track with a fixed box; only its id, label and time matter to the anomaly engine."""
    return Track(track_id, label, BBox(10, 10, 50, 90), 0.8, TrackState.CONFIRMED, first_seen, ts, 10)


MATCH_GRACE_S = 10.0  # a detection emitted this soon after its window ended still counts


@dataclass(slots=True)
class KindScore:
    """Event-level scores of one anomaly kind over a set of scenarios."""

    windows: int = 0
    found: int = 0
    detections: int = 0
    true_detections: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_detections / self.detections if self.detections else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.windows if self.windows else 1.0


def score(runs: list[tuple[Scenario, list[Detection]]]) -> dict[str, KindScore]:
    """Match detections to expected windows of the same kind; count the rest as false."""
    scores: dict[str, KindScore] = {}
    for scenario, detections in runs:
        for window in scenario.expected:
            s = scores.setdefault(window.kind, KindScore())
            s.windows += 1
            hits = [
                d.emitted_s
                for d in detections
                if d.kind == window.kind and window.start_s <= d.emitted_s <= window.end_s + MATCH_GRACE_S
            ]
            if hits:
                s.found += 1
                s.delays_s.append(min(hits) - window.start_s)
        for d in detections:
            s = scores.setdefault(d.kind, KindScore())
            s.detections += 1
            s.true_detections += any(
                w.kind == d.kind and w.start_s <= d.emitted_s <= w.end_s + MATCH_GRACE_S for w in scenario.expected
            )
    return scores
