"""How `edge-agent analyze` shows one file's progress on stderr: frames read, media time, speed.

On a terminal one line is redrawn in place with `\\r`; anywhere else (a pipe, a log) a line is
written at every tenth of the file, so logs stay readable. Called from the batch runner's main loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

LOG_STEPS = 10


@dataclass(frozen=True, slots=True)
class Position:
    """Where a run is: frames read of the file's total (0: unknown), seconds of video done, wall seconds spent."""

    frames: int
    total_frames: int
    media_s: float
    wall_s: float

    @property
    def speed(self) -> float:
        """Seconds of video per second of wall time (x realtime)."""
        return self.media_s / self.wall_s if self.wall_s > 0 else 0.0

    def describe(self, label: str) -> str:
        total = f"/{self.total_frames}" if self.total_frames else ""
        return f"{label}: {self.frames}{total} frames, {self.media_s:.1f} s of video in {self.wall_s:.1f} s ({self.speed:.1f}x realtime)"


class FileProgress:
    def __init__(self, stream: TextIO, label: str, terminal: bool) -> None:
        self._stream = stream
        self._label = label
        self._terminal = terminal
        self._logged_step = -1

    def show(self, position: Position) -> None:
        if self._terminal:
            self._stream.write("\r" + position.describe(self._label))
            self._stream.flush()
            return
        step = position.frames * LOG_STEPS // position.total_frames if position.total_frames else 0
        if step > self._logged_step:
            self._logged_step = step
            self._stream.write(position.describe(self._label) + "\n")
            self._stream.flush()

    def done(self, position: Position) -> None:
        end = "\n"
        self._stream.write(("\r" if self._terminal else "") + position.describe(self._label) + ", done" + end)
        self._stream.flush()
