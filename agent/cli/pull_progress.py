"""How `edge-agent models pull` shows a download on stderr (main thread, agent.cli.main).

On a terminal a bar is redrawn in place with `\\r`; anywhere else (a pipe, a journal, a CI log)
`\\r` would pile every redraw onto one line, so one line is written when the fetch starts and
one when it has finished."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

PROGRESS_WIDTH = 30
MIB = 1024 * 1024


class PullProgress(Protocol):
    """agent.catalog.pull.Progress, plus the end of the pull (completed: it succeeded)."""

    def __call__(self, done: int, total: int | None) -> None: ...

    def finish(self, completed: bool) -> None: ...


class TerminalBar:
    """A plain-text progress bar, redrawn only when the shown percentage (or MiB) changes."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._shown: int | None = None
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            percent = min(100, done * 100 // total)
            if percent == self._shown:
                return
            self._shown = percent
            filled = PROGRESS_WIDTH * percent // 100
            bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
            text = f"{self._label} [{bar}] {percent:3d}% {done / MIB:.1f}/{total / MIB:.1f} MiB"
        else:
            step = done // MIB
            if step == self._shown:
                return
            self._shown = step
            text = f"{self._label} {done / MIB:.1f} MiB"
        self._stream.write("\r" + text)
        self._stream.flush()
        self._drawn = True

    def finish(self, completed: bool) -> None:
        if self._drawn:  # end the bar's line, so what follows starts on its own
            self._stream.write("\n")
            self._stream.flush()


class StartEndLines:
    """One line when the first bytes arrive (with the size, if known), one when all have."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream = stream
        self._label = label
        self._done: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._done is None:
            size = f"{total / MIB:.1f} MiB" if total else "size unknown"
            self._write(f"{self._label}: fetching ({size})")
        self._done = done

    def finish(self, completed: bool) -> None:
        if completed and self._done is not None:
            self._write(f"{self._label}: fetched {self._done / MIB:.1f} MiB")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


@contextmanager
def shown_on(stream: TextIO, label: str) -> Iterator[PullProgress]:
    """A progress callback for the fetch inside the block; the bar on a terminal, else two lines."""
    progress: PullProgress = TerminalBar(stream, label) if stream.isatty() else StartEndLines(stream, label)
    completed = False
    try:
        yield progress
        completed = True
    finally:
        progress.finish(completed)
