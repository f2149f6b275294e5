"""Fair scheduling of many cameras onto one detector.

Pure: a detector thread passes each camera's state and the time in and gets
back the camera to serve next. Stalest first (longest since its last detection),
each camera capped at its detect fps, cameras with nothing new cost nothing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CameraSlot:
    """What the scheduler needs to know about one camera at one instant."""

    camera: str
    has_new_frame: bool
    last_detect_mono: float | None
    min_interval_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """The camera to serve now (or None), and how long to wait if there is none."""

    camera: str | None
    wait_s: float


def choose_next(slots: list[CameraSlot], now_mono: float, idle_wait_s: float = 0.05) -> Decision:
    """Pick the due camera whose last detection is oldest; a never-served camera goes first."""
    best: CameraSlot | None = None
    best_age = -1.0
    soonest_due: float | None = None
    for slot in slots:
        if not slot.has_new_frame:
            continue
        if slot.last_detect_mono is None:
            age = float("inf")
        else:
            age = now_mono - slot.last_detect_mono
            if age < slot.min_interval_s:
                wait = slot.min_interval_s - age
                soonest_due = wait if soonest_due is None else min(soonest_due, wait)
                continue
        if age > best_age:
            best, best_age = slot, age
    if best is None:
        return Decision(None, idle_wait_s if soonest_due is None else max(soonest_due, 0.0))
    return Decision(best.camera, 0.0)
