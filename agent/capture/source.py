"""Camera sources: the FrameSource Protocol and its one real implementation over OpenCV.

Called only by a camera's capture thread. The source string from config is classified once
(agent.config.sources) and only its `target` goes to cv2.VideoCapture (never a shell). Network streams get open and read
timeouts so a dead camera cannot hang the thread for longer than read_timeout_s."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from agent.capture.reachability import explain_unreachable
from agent.capture.scale import FrameSize, detect_size
from agent.config.schema import CameraConfig
from agent.config.sources import SourceKind, classify_source, redact
from agent.errors import SourceError
from agent.types import Image

MAX_PLAUSIBLE_FPS = 1000.0  # containers sometimes report 90000 (the RTP clock) or 1e9


class FrameSource(Protocol):
    """Where a capture thread gets decoded BGR frames. Not thread-safe: one thread uses it."""

    @property
    def fps(self) -> float | None: ...

    @property
    def is_file(self) -> bool: ...

    @property
    def frame_shape(self) -> tuple[int, int, int] | None: ...

    @property
    def position_s(self) -> float | None:
        """A file's presentation time of the frame read last, in seconds; None where unknown (live)."""

    def open(self) -> None:
        """Open the source, or raise SourceError saying why it cannot be opened."""

    def read_into(self, buf: Image) -> Image | None:
        """Decode the next frame into `buf` if it has the frame's shape.

        Returns the array holding the frame (`buf`, or a new array when the shape
        differs), or None at the end of a file or when the stream failed."""

    def close(self) -> None:
        """Release the source; safe to call twice or after a failed open()."""


def reads_a_file(config: CameraConfig) -> bool:
    """A video file's frames carry media time, and its detect_fps is applied at capture per media second."""
    return classify_source(config.source).kind is SourceKind.FILE


class OpenCVSource:
    """A V4L2 device, RTSP/HTTP stream or video file read through cv2.VideoCapture."""

    def __init__(self, camera: str, config: CameraConfig) -> None:
        self.camera = camera
        self.config = config
        self.source = classify_source(config.source)  # the schema has already accepted it
        self._cap: cv2.VideoCapture | None = None
        self._fps: float | None = None
        self._shape: tuple[int, int, int] | None = None

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def kind(self) -> SourceKind:
        return self.source.kind

    @property
    def is_file(self) -> bool:
        return self.kind is SourceKind.FILE

    @property
    def frame_shape(self) -> tuple[int, int, int] | None:
        return self._shape

    @property
    def position_s(self) -> float | None:
        """CAP_PROP_POS_MSEC after a read: FFmpeg's presentation time of that frame (0 for the first)."""
        if self._cap is None or not self.is_file:
            return None
        msec = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        return msec / 1000.0 if msec >= 0.0 else None

    def open(self) -> None:
        self.close()
        cap = self._create_capture()
        if not cap.isOpened():
            cap.release()
            where = redact(self.config.source)
            network = self.kind in (SourceKind.RTSP, SourceKind.HTTP)
            reason = explain_unreachable(self.config.source) if network else None
            cause = f" ({reason})" if reason else ""
            raise SourceError(f"camera {self.camera}: cannot open {self.kind.value} source {where}{cause}")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        self._fps = fps if 0.0 < fps <= MAX_PLAUSIBLE_FPS else None
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._shape = (height, width, 3) if width > 0 and height > 0 else None

    def _create_capture(self) -> cv2.VideoCapture:
        """Open `self.source.target`, the string the policy checked, and nothing derived otherwise."""
        target = self.source.target
        open_ms = int(self.config.open_timeout_s * 1000)
        read_ms = int(self.config.read_timeout_s * 1000)
        if self.kind is SourceKind.V4L2:
            cap = cv2.VideoCapture(int(target) if target.isdigit() else target, cv2.CAP_V4L2)
            # Best effort: backends that do not support the property ignore it.
            cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms)
            self._request_detect_size(cap)
            return cap
        if self.kind is SourceKind.FILE:
            # Absolute, so FFmpeg never reads a "proto:" prefix of a relative name as a protocol.
            path = Path(target).absolute()
            if not path.is_file():
                raise SourceError(f"camera {self.camera}: video file {path} does not exist or is not a file")
            return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, self._decoder_params())
        # OpenCV's FFmpeg backend already prefers RTSP over TCP (rtsp_flags=prefer_tcp)
        # unless OPENCV_FFMPEG_CAPTURE_OPTIONS is set in the environment.
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, [*params, *self._decoder_params()])

    def _decoder_params(self) -> list[int]:
        """FFmpeg decode threads (camera decoder_threads); 0 leaves FFmpeg's default, one per core."""
        threads = self.config.decoder_threads
        return [cv2.CAP_PROP_N_THREADS, threads] if threads > 0 else []

    def _request_detect_size(self, cap: cv2.VideoCapture) -> None:
        """Ask a V4L2 device for the detect resolution, so one with that mode delivers it and no
        frame needs resizing. Best effort: the capture thread's resize still guarantees the size."""
        native = _capture_size(cap)
        target = detect_size(native, self.config.detect_resolution)
        if target == native:
            return
        # OpenCV's V4L2 backend switches mode once both sides are set.
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, target.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, target.height)
        if _capture_size(cap) != target:
            # The driver's nearest mode may have another aspect (a cropped view) or be smaller
            # than asked: keep the default mode and let the resize do the work.
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, native.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, native.height)

    def read_into(self, buf: Image) -> Image | None:
        if self._cap is None:
            raise SourceError(f"camera {self.camera}: read before open()")
        ok, image = self._cap.read(buf)
        if not ok or image is None or image.size == 0:
            return None
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise SourceError(f"camera {self.camera}: source gave {image.dtype} frames of shape {image.shape}, not BGR")
        if image is not buf:
            self._shape = (int(image.shape[0]), int(image.shape[1]), 3)
        return np.asarray(image, dtype=np.uint8)  # a no-op view: already uint8

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _capture_size(cap: cv2.VideoCapture) -> FrameSize:
    return FrameSize(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
