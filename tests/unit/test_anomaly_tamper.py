"""Unit tests of the tamper features and detector on synthetic textured frames."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from agent.config.anomaly import TamperConfig
from agent.core.anomaly.common import AnomalyBook
from agent.core.anomaly.tamper import TamperDetector, edge_match, tamper_features, tamper_grey
from agent.types import Anomaly, Image

RNG_SEED = 5


def _scene() -> Image:
    """A 320x180 grey scene with edges at several scales (blobs, bars, fine texture)."""
    rng = np.random.default_rng(RNG_SEED)
    coarse = cv2.resize(rng.uniform(40, 200, (18, 32)).astype(np.float32), (320, 180), interpolation=cv2.INTER_NEAREST)
    fine = rng.normal(0, 12, (180, 320)).astype(np.float32)
    scene: Image = np.clip(coarse + fine, 0, 255).astype(np.uint8)  # np.clip of a float array is typed Any
    return scene


def _noisy(frame: Image, k: int) -> Image:
    jitter = np.random.default_rng(k).normal(0, 3, frame.shape)
    return np.clip(frame + jitter, 0, 255).astype(np.uint8)


SCENE = _scene()
Transform = Callable[[Image, float], Image]


def _run(transform: Transform, cfg: TamperConfig | None = None) -> list[Anomaly]:
    """20 s healthy, 20 s transformed, 20 s healthy again; a frame every 0.5 s."""
    ids = itertools.count(1)
    det = TamperDetector(cfg or TamperConfig(), AnomalyBook("cam", lambda: f"t{next(ids)}"))
    out: list[Anomaly] = []
    for k in range(120):
        t_s = k * 0.5
        frame = _noisy(SCENE, k)
        if 20.0 <= t_s < 40.0:
            frame = transform(frame, t_s)
        out += det.update(t_s, tamper_features(frame))
    return out


def _shift(frame: Image, _t: float) -> Image:
    return np.roll(frame, (6, 26), axis=(0, 1))


@pytest.mark.parametrize(
    ("transform", "kind"),
    [
        (lambda f, _t: (f * 0.02).astype(np.uint8), "tamper_blackout"),
        (lambda f, _t: cv2.GaussianBlur(f, (0, 0), 3.0), "tamper_blur"),
        (lambda f, _t: np.where(np.arange(320) < 260, np.uint8(60), f).astype(np.uint8), "tamper_covered"),
        (_shift, "tamper_moved"),
    ],
)
def test_each_tamper_fires_within_sustain_and_resolves(transform: Transform, kind: str) -> None:
    """Each tamper opens exactly one anomaly of its kind a few seconds after it starts and resolves after."""
    changes = _run(transform)
    assert [(a.kind, a.active) for a in changes] == [(kind, True), (kind, False)]
    assert 20.0 <= changes[0].started_ts <= 23.0
    assert changes[1].ended_ts is not None
    assert 40.0 <= changes[1].ended_ts <= 45.0


def _walker(frame: Image, t_s: float) -> Image:
    x = int(14 * (t_s - 20.0))
    out = frame.copy()
    out[60:120, x : x + 30] = np.clip(out[60:120, x : x + 30].astype(np.int16) + 60, 0, 255).astype(np.uint8)
    return out


@pytest.mark.parametrize(
    "transform",
    [
        lambda f, t: (f * (1.0 - 0.035 * (t - 20.0))).astype(np.uint8),  # dusk: down to 30 % brightness
        lambda f, _t: np.clip(f.astype(np.int16) + 40, 0, 255).astype(np.uint8),  # lights on
        _walker,  # a textured object crossing the view
    ],
)
def test_lighting_changes_and_passing_objects_do_not_fire(transform: Transform) -> None:
    """Brightness ramps, steps and an object in view leave every tamper kind silent."""
    assert _run(transform) == []


def test_features_separate_black_uniform_and_textured_frames() -> None:
    """The cheap features rank black, flat and textured frames as the detector expects."""
    black = tamper_features(np.full((180, 320), 3, np.uint8))
    flat = tamper_features(np.full((180, 320), 128, np.uint8))
    scene = tamper_features(SCENE)
    assert black.mean < 10
    assert flat.uniform_fraction == 1.0
    assert scene.uniform_fraction < 0.5
    assert scene.edge_density > flat.edge_density
    assert edge_match(scene.edge_map, tamper_features(_noisy(SCENE, 1)).edge_map) > 0.9
    assert edge_match(scene.edge_map, tamper_features(_shift(SCENE, 0)).edge_map) < 0.6


def test_tamper_grey_keeps_aspect_and_width() -> None:
    """A 1280x720 BGR frame becomes a 320x180 grey frame."""
    grey = tamper_grey(np.zeros((720, 1280, 3), np.uint8), 320)
    assert grey.shape == (180, 320)
    assert grey.dtype == np.uint8
