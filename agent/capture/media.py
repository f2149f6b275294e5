"""Media time for video files: each frame's presentation time, and detect_fps per media second.

Pure: the capture thread passes in the position the decoder reports for each frame it read
(OpenCV's CAP_PROP_POS_MSEC, the container's presentation time) and the run's clocks once.
A file's frames are then stamped with the run's first-frame time plus their media offset, so
tracking, events, dwell, loitering and anomaly delays see the clip's own time whether it is
analysed at 0.5x or 20x realtime. A looping file keeps counting: the second pass continues
where the first ended, so time never goes backwards."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A rate-cap boundary this close to a frame's time counts as reached: 6 / 30 in floating point
# is a hair under 0.2, and a 30 fps file with detect_fps 5 must still take every 6th frame.
DUE_TOLERANCE_S = 1e-3


@dataclass(frozen=True, slots=True)
class MediaStamp:
    """Where one frame sits: seconds since the run's first frame, on both of the run's clocks."""

    offset_s: float
    ts_mono: float
    ts_wall: float


class MediaClock:
    """Turns decoder positions into increasing media offsets, across reopenings of the file."""

    def __init__(self) -> None:
        self._period_s = 0.0
        self._anchor: tuple[float, float] | None = None  # (mono, wall) of the run's first frame
        self._pass_base_s = 0.0  # offset of the current pass's first frame
        self._pass_start_pos: float | None = None  # the decoder's position of that frame
        self._pass_started = False
        self._last_offset_s: float | None = None

    def new_pass(self, fps: float) -> None:
        """The file was (re)opened at `fps` (the frame period used where the container gives no
        usable position): its positions start again, the offsets go on one period later."""
        if self._last_offset_s is not None:
            self._pass_base_s = self._last_offset_s + self._period_s
        self._period_s = 1.0 / fps
        self._pass_started = False

    def stamp(self, position_s: float | None, now_mono: float, now_wall: float) -> MediaStamp:
        """The stamp of the frame just read at `position_s` (None: the container did not say).

        A missing, non-finite or non-increasing position is replaced by the previous frame's plus
        one frame period, so offsets always increase."""
        if self._anchor is None:
            self._anchor = (now_mono, now_wall)
        offset = self._offset(position_s if position_s is not None and math.isfinite(position_s) else None)
        self._last_offset_s = offset
        mono0, wall0 = self._anchor
        return MediaStamp(offset, mono0 + offset, wall0 + offset)

    def _offset(self, position_s: float | None) -> float:
        if not self._pass_started or self._last_offset_s is None:
            self._pass_started = True
            self._pass_start_pos = position_s
            return self._pass_base_s
        step = self._last_offset_s + self._period_s
        if position_s is None or self._pass_start_pos is None:
            return step
        offset = self._pass_base_s + position_s - self._pass_start_pos
        return offset if offset > self._last_offset_s else step


class MediaRateCap:
    """detect_fps applied to media offsets: which frames of a file go to analysis.

    A 30 fps file with detect_fps 5 passes frames 0, 6, 12, ...: the same frames whether the file
    is analysed as fast as the CPU allows or at its own pace, so a replay gives the same events."""

    def __init__(self) -> None:
        self._next_due_s: float | None = None

    def admit(self, offset_s: float, detect_fps: float) -> bool:
        interval = 1.0 / detect_fps
        if self._next_due_s is not None and offset_s < self._next_due_s - DUE_TOLERANCE_S:
            return False
        due = offset_s if self._next_due_s is None else self._next_due_s
        while due <= offset_s + DUE_TOLERANCE_S:
            due += interval
        self._next_due_s = due
        return True
