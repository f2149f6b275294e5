"""A camera's runtime toggles (detect, snapshots): the values the pipeline reads on every frame.

Set on paho's network thread (an operator's `<camera>/<toggle>/set`), read by the camera's
detector thread and the analytics thread. The values are one frozen ToggleStates that a writer
replaces whole under a lock, so a reader needs no lock and never sees half an update."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from agent.publish.messages import SWITCH_OFF, SWITCH_ON


class Toggle(StrEnum):
    """A runtime toggle; its value is its topic level (`<camera>/<toggle>/set`)."""

    DETECT = "detect"
    SNAPSHOTS = "snapshots"


@dataclass(frozen=True, slots=True)
class ToggleStates:
    """Every toggle of one camera. ON (True) runs the feature as its YAML config says."""

    detect: bool = True
    snapshots: bool = True

    def value(self, toggle: Toggle) -> bool:
        match toggle:
            case Toggle.DETECT:
                return self.detect
            case Toggle.SNAPSHOTS:
                return self.snapshots
            case _:
                assert_never(toggle)

    def with_value(self, toggle: Toggle, on: bool) -> ToggleStates:
        match toggle:
            case Toggle.DETECT:
                return dataclasses.replace(self, detect=on)
            case Toggle.SNAPSHOTS:
                return dataclasses.replace(self, snapshots=on)
            case _:
                assert_never(toggle)


class CameraToggles:
    """The live toggles of one camera, shared by the threads that set and read them."""

    def __init__(self, initial: ToggleStates | None = None) -> None:
        self._states = initial if initial is not None else ToggleStates()
        self._lock = threading.Lock()  # serialises writers; readers take one reference

    @property
    def states(self) -> ToggleStates:
        return self._states

    @property
    def detect(self) -> bool:
        return self._states.detect

    @property
    def snapshots(self) -> bool:
        return self._states.snapshots

    def set(self, toggle: Toggle, on: bool) -> None:
        with self._lock:
            self._states = self._states.with_value(toggle, on)


def parse_switch(payload: bytes) -> bool | None:
    """`ON` / `OFF` in any letter case, surrounding whitespace ignored; None for anything else."""
    text = payload.strip().upper()
    if text == SWITCH_ON:
        return True
    if text == SWITCH_OFF:
        return False
    return None
