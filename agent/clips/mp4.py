"""Writes one clip: BGR frames with their timestamps, H.264 (libx264) in MP4 with the index at the front
(faststart) so Chromium's <video> plays and seeks it. Used by the clip thread only.

The file is written under a dot-name and renamed when complete, so the store never names a torn clip."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from agent.errors import AgentError
from agent.types import Image

TIME_BASE = Fraction(1, 1000)  # pts in ms: frames come at the detector's uneven pace
CODEC = "libx264"
CODEC_OPTIONS = {"preset": "veryfast", "crf": "28", "tune": "zerolatency"}
NOMINAL_FPS = 10  # only a hint for the muxer; each frame carries its own pts


class ClipError(AgentError):
    """A clip could not be encoded (PyAV without libx264, a full disk)."""


class Mp4Writer:
    """One open clip. `add` frames in time order, then `close` (renames it) or `abort` (deletes it)."""

    def __init__(self, final_path: Path, width: int, height: int, start_ts: float) -> None:
        self.final_path = final_path
        self.part_path = final_path.with_name(f".{final_path.name}.part")
        final_path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
        self.start_ts = start_ts
        self.end_ts = start_ts
        self.frames = 0
        self._last_pts = -1
        try:
            self._container = av.open(str(self.part_path), "w", format="mp4", options={"movflags": "+faststart"})
            stream = self._container.add_stream(CODEC, rate=NOMINAL_FPS, options=CODEC_OPTIONS)
        except (av.error.FFmpegError, ValueError) as exc:
            raise ClipError(f"cannot open an H.264 MP4 writer at {self.part_path}: {exc}") from exc
        if not isinstance(stream, av.video.stream.VideoStream):
            raise ClipError(f"PyAV gave a {type(stream).__name__} for {CODEC}, not a video stream")
        self._stream = stream
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = TIME_BASE
        self._stream.codec_context.time_base = TIME_BASE
        self._stream.thread_count = 1  # bounded CPU: the clip thread is one core at most

    def add(self, image: Image, ts: float) -> None:
        pts = round((ts - self.start_ts) * 1000)
        if pts <= self._last_pts:
            return  # out of order or duplicate time: the muxer needs rising pts
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = np.asarray(cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA), np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, TIME_BASE
        self._container.mux(self._stream.encode(frame))
        self._last_pts = pts
        self.end_ts = ts
        self.frames += 1

    def close(self) -> int:
        """Flush, close and give the file its final name; returns its size in bytes."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        with self.part_path.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self.part_path, self.final_path)
        return self.final_path.stat().st_size

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self.part_path.unlink(missing_ok=True)
