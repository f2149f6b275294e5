"""Detect resolution: the size arithmetic, its config validation, and FrameScaler's buffers on real frames."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from agent.capture.ring import FrameRing
from agent.capture.scale import FrameScaler, FrameSize, detect_size, interpolation_for
from agent.config.loader import load_config_text
from agent.config.perf import DetectResolution
from agent.errors import ConfigError
from agent.types import Image
from tests.support import assets
from tests.support.config_text import MINIMAL_CONFIG, SOURCE

BASE = MINIMAL_CONFIG  # lines 1-6; cases append from line 7


@pytest.mark.parametrize(
    ("native", "width", "height", "expected"),
    [
        pytest.param((640, 480), 320, None, (320, 240), id="aspect-kept-4:3"),
        pytest.param((1920, 1080), 640, None, (640, 360), id="aspect-kept-16:9"),
        pytest.param((1920, 1080), 500, None, (500, 282), id="even-rounding-281.25-to-282"),
        pytest.param((768, 576), 100, None, (100, 76), id="even-rounding-half-up-75-to-76"),
        pytest.param((1280, 720), 426, None, (426, 240), id="even-rounding-239.6-to-240"),
        pytest.param((641, 481), 640, None, (640, 480), id="odd-native-height-stays-even"),
        pytest.param((1001, 999), 1000, None, (1000, 998), id="never-rounded-past-odd-native-height"),
        pytest.param((4000, 40), 32, None, (32, 2), id="extreme-aspect-keeps-two-rows"),
        pytest.param((1920, 1080), 640, 480, (640, 480), id="explicit-height-ignores-aspect"),
        pytest.param((640, 480), 640, 360, (640, 360), id="explicit-height-shrinks-one-side"),
        pytest.param((640, 480), 1280, None, (640, 480), id="no-upscale-wider"),
        pytest.param((640, 480), 640, None, (640, 480), id="no-upscale-equal"),
        pytest.param((320, 240), 640, 480, (320, 240), id="no-upscale-both-sides"),
        pytest.param((640, 480), 320, 600, (640, 480), id="no-upscale-when-height-would-grow"),
        pytest.param((0, 0), 320, None, (0, 0), id="unknown-native-size-unchanged"),
    ],
)
def test_detect_size(native: tuple[int, int], width: int, height: int | None, expected: tuple[int, int]) -> None:
    """The analysed size keeps the aspect (even height), honours an explicit height and never grows a side."""
    config = DetectResolution(width=width, height=height)
    assert detect_size(FrameSize(*native), config) == FrameSize(*expected)


def test_no_detect_resolution_keeps_native_size() -> None:
    """Without detect_resolution frames are analysed at their native size."""
    assert detect_size(FrameSize(1920, 1080), None) == FrameSize(1920, 1080)


def test_detect_resolution_defaults_to_null_and_height_to_aspect() -> None:
    """A camera without the option has none; with only a width, height follows the source (None)."""
    assert load_config_text(BASE, source=SOURCE).cameras["front"].detect_resolution is None
    cfg = load_config_text(BASE + "    detect_resolution: {width: 320}\n", source=SOURCE)
    assert cfg.cameras["front"].detect_resolution == DetectResolution(width=320, height=None)


@pytest.mark.parametrize(
    ("extra", "line", "fragment"),
    [
        pytest.param(
            "    detect_resolution: {width: 16}\n",
            7,
            "cameras.front.detect_resolution.width: Input should be greater than or equal to 32",
            id="width-too-small",
        ),
        pytest.param(
            "    detect_resolution: {width: 100000}\n",
            7,
            "cameras.front.detect_resolution.width: Input should be less than or equal to 8192",
            id="width-too-large",
        ),
        pytest.param(
            "    detect_resolution:\n      width: 320\n      height: 8\n",
            9,
            "cameras.front.detect_resolution.height: Input should be greater than or equal to 32",
            id="height-too-small",
        ),
        pytest.param(
            "    detect_resolution: {height: 240}\n",
            7,
            "cameras.front.detect_resolution.width: Field required",
            id="width-missing",
        ),
        pytest.param(
            "    detect_resolution: {width: 320.5}\n",
            7,
            "cameras.front.detect_resolution.width: Input should be a valid integer",
            id="fractional-width",
        ),
        pytest.param(
            "    detect_resolution: {width: 320, heigth: 240}\n",
            7,
            "cameras.front.detect_resolution.heigth: Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            "    detect_resolution: 320\n",
            7,
            "cameras.front.detect_resolution: Input should be a valid dictionary",
            id="scalar-instead-of-mapping",
        ),
    ],
)
def test_bad_detect_resolution_names_line_and_field(extra: str, line: int, fragment: str) -> None:
    """A bad detect_resolution fails loading with the line and the dotted field that is wrong."""
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE + extra, source=SOURCE)
    errors = caught.value.errors
    assert any(e.startswith(f"{SOURCE}:{line}: ") and fragment in e for e in errors), errors


# --- FrameScaler on real frames ---------------------------------------------------------


@pytest.fixture(scope="module")
def traffic_frames() -> list[Image]:
    """The first three 640x480 frames of the real traffic video."""
    cap = cv2.VideoCapture(str(assets.video(assets.TRAFFIC)), cv2.CAP_FFMPEG)
    frames = [np.asarray(cap.read()[1], dtype=np.uint8) for _ in range(3)]
    cap.release()
    return frames


def capture_one(scaler: FrameScaler, ring: FrameRing, frame: Image, shape: tuple[int, ...]) -> tuple[Image, Image]:
    """One capture step as CaptureWorker does it; returns (decode buffer, committed slot)."""
    target = scaler.decode_buffer(ring, shape)
    np.copyto(target, frame)  # what cap.read(target) does for a frame of the expected size
    slot = scaler.store(ring, target)
    ring.commit(0.0, 0.0)
    return target, slot


@pytest.mark.parametrize(
    ("width", "height", "interpolation"),
    [(320, 240, cv2.INTER_AREA), (200, 150, cv2.INTER_LINEAR)],
    ids=["halved", "non-integer-factor"],
)
def test_scaler_resizes_into_the_slot_through_one_reused_scratch_buffer(
    traffic_frames: list[Image], width: int, height: int, interpolation: int
) -> None:
    """Every frame is decoded into the same scratch array and resized into a detect-size slot: INTER_AREA
    for an integer factor, INTER_LINEAR otherwise (INTER_AREA's slow path)."""
    ring = FrameRing("crossing", 3)
    scaler = FrameScaler("crossing", DetectResolution(width=width))
    scratches = []
    for frame in traffic_frames:
        scratch, slot = capture_one(scaler, ring, frame, frame.shape)
        scratches.append(scratch)
        assert scratch.shape == (480, 640, 3)
        assert slot.shape == (height, width, 3)
        assert np.array_equal(slot, cv2.resize(frame, (width, height), interpolation=interpolation))
    assert all(s is scratches[0] for s in scratches)
    taken = ring.take_latest()
    assert taken is not None
    assert (taken.width, taken.height) == (width, height)


@pytest.mark.parametrize("config", [None, DetectResolution(width=1280)], ids=["unset", "larger-than-native"])
def test_scaler_without_downscale_decodes_straight_into_the_slot(
    traffic_frames: list[Image], config: DetectResolution | None
) -> None:
    """With no downscale to do, the frame is decoded into the ring slot itself: no scratch buffer, no copy."""
    ring = FrameRing("crossing", 3)
    scaler = FrameScaler("crossing", config)
    target, slot = capture_one(scaler, ring, traffic_frames[0], traffic_frames[0].shape)
    assert target is slot
    assert np.array_equal(slot, traffic_frames[0])


def test_scaler_adopts_a_source_allocated_frame_of_a_new_size(traffic_frames: list[Image]) -> None:
    """A frame of an unexpected size (the source allocated it) is resized, then reused as the scratch buffer."""
    ring = FrameRing("crossing", 3)
    scaler = FrameScaler("crossing", DetectResolution(width=320))
    unknown = scaler.decode_buffer(ring, (0, 0, 3))  # a source that reports no size yet
    assert unknown.size == 0
    fresh = traffic_frames[1].copy()  # what cap.read() returns when the buffer does not fit
    slot = scaler.store(ring, fresh)
    ring.commit(0.0, 0.0)
    assert np.array_equal(slot, cv2.resize(fresh, (320, 240), interpolation=cv2.INTER_AREA))
    assert scaler.decode_buffer(ring, fresh.shape) is fresh


def test_scaler_logs_once_why_it_does_not_upscale(
    traffic_frames: list[Image], caplog: pytest.LogCaptureFixture
) -> None:
    """A detect_resolution above the native size is logged once at INFO, not once per frame."""
    ring = FrameRing("crossing", 3)
    scaler = FrameScaler("crossing", DetectResolution(width=1280))
    with caplog.at_level(logging.INFO, logger="agent.capture.scale"):
        for frame in traffic_frames:
            capture_one(scaler, ring, frame, frame.shape)
    messages = [r.getMessage() for r in caplog.records if r.name == "agent.capture.scale"]
    assert len(messages) == 1
    assert "not smaller than the native 640x480" in messages[0]
    assert "never upscaled" in messages[0]


@pytest.mark.parametrize(
    ("native", "target", "expected"),
    [
        (FrameSize(640, 480), FrameSize(320, 240), cv2.INTER_AREA),
        (FrameSize(1920, 1080), FrameSize(640, 360), cv2.INTER_AREA),
        (FrameSize(1920, 1080), FrameSize(1280, 720), cv2.INTER_LINEAR),
        (FrameSize(768, 576), FrameSize(320, 240), cv2.INTER_LINEAR),
        (FrameSize(640, 480), FrameSize(320, 180), cv2.INTER_LINEAR),  # integer width, non-integer height
    ],
)
def test_interpolation_is_area_only_for_integer_factors(native: FrameSize, target: FrameSize, expected: int) -> None:
    """Pixel averaging where OpenCV has its fast integer path, bilinear elsewhere."""
    assert interpolation_for(native, target) == expected
