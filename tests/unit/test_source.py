"""Camera sources: OpenCVSource decodes real files (classification: test_config_sources.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.capture.source import OpenCVSource
from agent.config.schema import CameraConfig
from agent.errors import SourceError
from tests.support import assets


def test_file_source_decodes_every_frame_into_the_given_buffer() -> None:
    """A real file reports 10 fps and 576x768, decodes in place into a matching buffer, then ends."""
    source = OpenCVSource("walkway", CameraConfig(source=str(assets.video(assets.PEDESTRIANS))))
    source.open()
    try:
        assert (source.fps, source.frame_shape, source.is_file) == (10.0, (576, 768, 3), True)
        buf = np.zeros((576, 768, 3), dtype=np.uint8)
        frames = 0
        while (image := source.read_into(buf)) is not None:
            assert image is buf
            frames += 1
        assert frames == 795
        assert buf.mean() > 40
    finally:
        source.close()
        source.close()


def test_buffer_of_wrong_shape_gets_a_new_array() -> None:
    """When the buffer does not match the frame, the frame comes back in a new array of the right shape."""
    source = OpenCVSource("walkway", CameraConfig(source=str(assets.video(assets.PEDESTRIANS))))
    source.open()
    try:
        small = np.zeros((10, 10, 3), dtype=np.uint8)
        image = source.read_into(small)
        assert image is not None
        assert image is not small
        assert image.shape == (576, 768, 3)
        assert not small.any()
    finally:
        source.close()


def test_file_url_opens_the_file_it_names() -> None:
    """A file:// source opens the path after the scheme, the same path the remote policy checks."""
    source = OpenCVSource("walkway", CameraConfig(source=f"file://{assets.video(assets.PEDESTRIANS)}"))
    source.open()
    try:
        assert (source.is_file, source.frame_shape) == (True, (576, 768, 3))
    finally:
        source.close()


def test_missing_file_is_a_source_error() -> None:
    """Opening a file that does not exist names the path in a SourceError."""
    with pytest.raises(SourceError, match="does not exist"):
        OpenCVSource("gone", CameraConfig(source="/nonexistent/clip.mp4")).open()


def test_read_before_open_is_a_source_error() -> None:
    """read_into() on a source that was never opened raises instead of crashing in OpenCV."""
    with pytest.raises(SourceError, match="before open"):
        OpenCVSource("cam", CameraConfig(source="/nonexistent/clip.mp4")).read_into(np.zeros((1, 1, 3), np.uint8))


def decoder_threads() -> list[str]:
    """Names of this process's FFmpeg decoder threads (libavcodec names them av:<codec>:<role>)."""
    tasks = Path("/proc/self/task")
    return [name for name in ((t / "comm").read_text().strip() for t in tasks.iterdir()) if name.startswith("av:")]


@pytest.mark.parametrize("clip", [assets.TRAFFIC, assets.PEDESTRIANS])
def test_file_source_decodes_on_the_capture_thread_alone(clip: str) -> None:
    """FFmpeg starts no decoder threads of its own: each camera decodes on its capture thread."""
    before = decoder_threads()
    source = OpenCVSource("cam", CameraConfig(source=str(assets.video(clip))))
    source.open()
    try:
        shape = source.frame_shape
        assert shape is not None
        assert source.read_into(np.empty(shape, np.uint8)) is not None
        assert decoder_threads() == before
    finally:
        source.close()


def test_decoder_threads_zero_leaves_ffmpeg_its_own_decoder_threads() -> None:
    """decoder_threads: 0 keeps FFmpeg's default: on this multi-core machine H.264 gets decoder threads."""
    before = decoder_threads()
    source = OpenCVSource("cam", CameraConfig(source=str(assets.video(assets.TRAFFIC)), decoder_threads=0))
    source.open()
    try:
        shape = source.frame_shape
        assert shape is not None
        assert source.read_into(np.empty(shape, np.uint8)) is not None
        assert len(decoder_threads()) > len(before)
    finally:
        source.close()
