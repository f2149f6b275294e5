"""FrozenDetector fires on a repeated picture but not on live video or a static noisy scene."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.capture.frozen import CHECK_INTERVAL_S, FrozenDetector
from agent.types import Image
from tests.support import assets


def read_frames(name: str, count: int) -> list[Image]:
    cap = cv2.VideoCapture(str(assets.video(name)))
    frames: list[Image] = []
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(np.asarray(image, dtype=np.uint8))
    cap.release()
    assert len(frames) == count
    return frames


@pytest.fixture(scope="module")
def pedestrians() -> list[Image]:
    return read_frames(assets.PEDESTRIANS, 300)


@pytest.fixture(scope="module")
def traffic() -> list[Image]:
    return read_frames(assets.TRAFFIC, 300)


def run(detector: FrozenDetector, frames: list[Image], fps: float) -> list[bool]:
    return [detector.update(image, i / fps) for i, image in enumerate(frames)]


def test_repeated_frame_fires_after_timeout_not_before(pedestrians: list[Image]) -> None:
    """The same real frame every 0.1 s is not frozen before 5 s, and is within one check interval after."""
    detector = FrozenDetector(timeout_s=5.0)
    results = run(detector, [pedestrians[0]] * 80, fps=10.0)
    first_sure = int((5.0 + CHECK_INTERVAL_S) * 10) + 1
    assert not any(results[:50])
    assert all(results[first_sure:])
    assert detector.unchanged_s(7.9) == pytest.approx(7.9)


def test_repeated_frame_after_a_decoder_copy_still_fires(pedestrians: list[Image]) -> None:
    """Bit-identical copies (what a stuck decoder repeats) count as the same picture."""
    detector = FrozenDetector(timeout_s=1.0)
    frames = [pedestrians[10].copy() for _ in range(20)]
    assert run(detector, frames, fps=10.0)[-1] is True


@pytest.mark.parametrize("video", ["pedestrians", "traffic"])
def test_live_video_never_fires(video: str, request: pytest.FixtureRequest) -> None:
    """300 real consecutive frames never count as frozen, even with a 1 s timeout."""
    frames: list[Image] = request.getfixturevalue(video)
    detector = FrozenDetector(timeout_s=1.0)
    assert not any(run(detector, frames, fps=10.0))


@pytest.mark.parametrize("sigma", [0.7, 1.5, 3.0])
def test_static_scene_with_sensor_noise_never_fires(pedestrians: list[Image], sigma: float) -> None:
    """A still real scene plus faint per-frame sensor noise (sigma grey levels) is live, not frozen."""
    rng = np.random.default_rng(7)
    base = pedestrians[0].astype(np.float32)
    frames = [np.clip(base + rng.normal(0.0, sigma, base.shape), 0, 255).astype(np.uint8) for _ in range(40)]
    detector = FrozenDetector(timeout_s=1.0)
    assert not any(run(detector, frames, fps=10.0))


def test_change_after_freeze_resets_the_timer(pedestrians: list[Image]) -> None:
    """A new picture after a frozen stretch clears the frozen state and restarts the clock."""
    detector = FrozenDetector(timeout_s=2.0)
    frozen = run(detector, [pedestrians[0]] * 30, fps=10.0)
    assert frozen[-1] is True
    assert detector.update(pedestrians[200], 3.0) is False
    assert detector.unchanged_s(3.5) == pytest.approx(0.5)


def test_reset_forgets_the_reference(pedestrians: list[Image]) -> None:
    """After reset (a reconnect) the same picture needs a full timeout again."""
    detector = FrozenDetector(timeout_s=1.0)
    assert run(detector, [pedestrians[0]] * 15, fps=10.0)[-1] is True
    detector.reset()
    assert detector.update(pedestrians[0], 10.0) is False
    assert detector.update(pedestrians[0], 10.5) is False
    assert detector.update(pedestrians[0], 11.0) is True


def test_zero_timeout_disables(pedestrians: list[Image]) -> None:
    """timeout_s = 0 never reports frozen."""
    detector = FrozenDetector(timeout_s=0.0)
    assert not detector.enabled
    assert not any(run(detector, [pedestrians[0]] * 50, fps=10.0))


@pytest.mark.parametrize(("timeout_s", "threshold"), [(-1.0, 0.02), (5.0, 0.0)])
def test_bad_arguments_raise(timeout_s: float, threshold: float) -> None:
    """A negative timeout or a non-positive threshold is rejected."""
    with pytest.raises(ValueError, match="frozen"):
        FrozenDetector(timeout_s, threshold)
