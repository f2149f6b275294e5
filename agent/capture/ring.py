"""FrameRing: a per-camera ring of preallocated frame slots between two threads.

The capture thread (producer) decodes into `writable()` and `commit()`s; it never
blocks and overwrites the oldest unread frame, counting the drop. The inference
thread (consumer) takes the freshest frame with `take_latest()` and `release()`s it,
and says with `defer_until()` when its rate cap lets it take the next one."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent.types import Frame, FrameClock, Image

MIN_SLOTS = 3
NO_SEQ = 0  # seqs start at 1, so 0 means "slot holds no committed frame"


@dataclass(frozen=True, slots=True)
class RingCounters:
    """Counts since the ring was made. committed + skipped == consumed + dropped + pending.

    A frame is dropped when a newer one arrives before the consumer took it (only the newest
    frame is ever taken). `rate_capped`: it was superseded before the consumer was due for its
    next frame, or skipped by a video file's media-time rate cap before it reached the ring, so
    the rate cap (detect_fps) and nothing else passed it over. `overwritten`: superseded while
    the consumer was due, i.e. because analysis was late."""

    committed: int
    consumed: int
    pending: int
    latest_seq: int
    rate_capped: int
    overwritten: int

    @property
    def dropped(self) -> int:
        """Every frame the consumer never took (superseded unread), whatever the reason."""
        return self.rate_capped + self.overwritten


class _Slot:
    __slots__ = ("array", "clock", "held", "seq", "ts_mono", "ts_wall")

    def __init__(self) -> None:
        self.array: Image | None = None
        self.seq = NO_SEQ
        self.ts_mono = 0.0
        self.ts_wall = 0.0
        self.clock = FrameClock.WALL
        self.held = 0


class FrameNotify(Protocol):
    """Told after every committed frame (agent.pipeline.wake.WakeSignal, or a threading.Event)."""

    def set(self) -> None: ...


class FrameRing:
    """Ring of `slots` frame buffers for one camera (one producer, one consumer).

    A slot held by the consumer is never written. The consumer may hold at most
    slots - 2 frames at once, so the producer always has a slot to write into
    without touching the freshest committed frame."""

    def __init__(self, camera: str, slots: int, notify: FrameNotify | None = None) -> None:
        if slots < MIN_SLOTS:
            raise ValueError(f"a FrameRing needs at least {MIN_SLOTS} slots, got {slots}; raise ring_slots")
        self.camera = camera
        self._slots = [_Slot() for _ in range(slots)]
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._notify = notify
        self._writing: _Slot | None = None
        self._latest: _Slot | None = None
        self._seq = NO_SEQ
        self._last_taken = NO_SEQ
        self._due_mono = -math.inf  # the consumer takes a frame at once until it says otherwise
        self._rate_capped = 0
        self._overwritten = 0
        self._consumed = 0

    # --- producer side -------------------------------------------------------
    def writable(self, shape: tuple[int, ...]) -> Image:
        """A slot array of `shape` to decode into; valid until the next commit().

        Calling it again before commit() returns the same slot (reallocated only
        if the shape changed). An unread frame it held was counted when it was superseded."""
        with self._lock:
            slot = self._writing
            if slot is None:
                slot = self._pick_write_slot()
                slot.seq = NO_SEQ
                self._writing = slot
            if slot.array is None or slot.array.shape != shape:
                slot.array = np.empty(shape, dtype=np.uint8)
            return slot.array

    def commit(self, ts_mono: float, ts_wall: float, clock: FrameClock = FrameClock.WALL) -> int:
        """Publish the slot filled since writable() as the newest frame; return its seq.

        The previous newest frame, if still unread, is dropped now: only the newest is ever taken."""
        with self._lock:
            slot = self._writing
            if slot is None:
                raise RuntimeError("FrameRing.commit() without writable(): decode into writable() first")
            superseded = self._latest
            if superseded is not None and superseded.seq > self._last_taken:
                if ts_mono < self._due_mono:
                    self._rate_capped += 1
                else:
                    self._overwritten += 1
            self._seq += 1
            slot.seq = self._seq
            slot.ts_mono = ts_mono
            slot.ts_wall = ts_wall
            slot.clock = clock
            self._writing = None
            self._latest = slot
            self._ready.notify_all()
        if self._notify is not None:
            self._notify.set()
        return slot.seq

    def skip(self) -> None:
        """Count a frame the producer read but did not commit because the rate cap passed it over
        (a video file's detect_fps applies per media second, at capture: agent.capture.media)."""
        with self._lock:
            self._rate_capped += 1

    def _pick_write_slot(self) -> _Slot:
        """The free slot with the oldest frame, never a held one nor the newest frame."""
        candidates = [s for s in self._slots if s.held == 0 and s is not self._latest]
        if not candidates:  # unreachable while the consumer respects its hold limit
            raise RuntimeError(f"FrameRing {self.camera}: every slot is held; release frames after use")
        return min(candidates, key=lambda s: s.seq)

    # --- consumer side -------------------------------------------------------
    def take_latest(self, after_seq: int = NO_SEQ) -> Frame | None:
        """The freshest committed frame with seq > after_seq, held until release(); None if none."""
        with self._lock:
            slot = self._latest
            if slot is None or slot.seq <= after_seq or slot.array is None:
                return None
            if sum(1 for s in self._slots if s.held) >= len(self._slots) - 2 and slot.held == 0:
                raise RuntimeError(f"FrameRing {self.camera}: release the frames you hold before taking another")
            if slot.seq > self._last_taken:
                self._consumed += 1
                self._last_taken = slot.seq
                self._ready.notify_all()
            slot.held += 1
            return Frame(self.camera, slot.seq, slot.ts_mono, slot.ts_wall, slot.array, slot.clock)

    def release(self, frame: Frame) -> None:
        """Give a frame from take_latest() back; its image must not be used afterwards."""
        with self._lock:
            for slot in self._slots:
                if slot.held and slot.seq == frame.seq and slot.array is frame.image:
                    slot.held -= 1
                    return
        raise ValueError(f"FrameRing {self.camera}: frame seq {frame.seq} is not held (released twice?)")

    def defer_until(self, due_mono: float) -> None:
        """The consumer will take no frame before `due_mono` (its rate cap): a frame superseded
        before then counts as rate_capped, one superseded later as overwritten."""
        with self._lock:
            self._due_mono = due_mono

    def wait_consumed(self, timeout_s: float) -> bool:
        """Producer side, batch files only: block until the consumer has taken the newest frame
        (True), or timeout (False). True at once before the first commit, so the first frame is
        always there for a consumer that starts later; after it, nothing is overwritten unread."""
        with self._ready:
            return self._ready.wait_for(lambda: self._last_taken >= self._seq, timeout=timeout_s)

    def wait_for_frame(self, timeout_s: float, after_seq: int | None = None) -> bool:
        """Block until a frame newer than after_seq (default: the last taken) exists, or timeout."""
        with self._ready:
            return self._ready.wait_for(
                lambda: self._seq > (self._last_taken if after_seq is None else after_seq), timeout=timeout_s
            )

    # --- either side ---------------------------------------------------------
    @property
    def slot_count(self) -> int:
        return len(self._slots)

    @property
    def held_count(self) -> int:
        """Frames the consumer side holds now (taken and not yet released)."""
        with self._lock:
            return sum(1 for s in self._slots if s.held)

    @property
    def latest_seq(self) -> int:
        with self._lock:
            return self._seq

    def counters(self) -> RingCounters:
        with self._lock:
            pending = int(self._latest is not None and self._latest.seq > self._last_taken)
            return RingCounters(self._seq, self._consumed, pending, self._seq, self._rate_capped, self._overwritten)
