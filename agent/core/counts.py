"""Counts the objects in view per label, per zone and label, and in all, for retained topics.

Reports only counts that changed since the previous report, so the publisher sends
retained messages on change only. Pure; one instance per camera, called by the
analytics thread after the zone tracker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.types import Track, TrackState

_COUNTED = (TrackState.CONFIRMED, TrackState.LOST)


@dataclass(frozen=True, slots=True)
class CountKey:
    """What is counted: a label in the whole camera (zone None) or in one zone; label None is every
    object of the camera whatever its label (ALL_OBJECTS)."""

    label: str | None
    zone: str | None = None


ALL_OBJECTS = CountKey(None)


def _sort_key(key: CountKey) -> tuple[bool, str, bool, str]:
    return (key.label is not None, key.label or "", key.zone is not None, key.zone or "")


class ObjectCounter:
    """Counts CONFIRMED and LOST tracks (so a brief occlusion does not flicker the count;
    an object that left stops counting when the tracker removes it, max_age_s later).

    Keys are bounded by labels × (zones + 1) + 1: a key once reported stays known so that
    its drop to 0 is reported once."""

    def __init__(self) -> None:
        self._current: dict[CountKey, int] = {}
        self._reported: dict[CountKey, int] = {}

    def update(self, tracks: Sequence[Track], zones_by_track: Mapping[int, tuple[str, ...]]) -> None:
        """Recount from the tracks of this frame and their current zones."""
        counts: Counter[CountKey] = Counter()
        for track in tracks:
            if track.state not in _COUNTED:
                continue
            counts[ALL_OBJECTS] += 1
            counts[CountKey(track.label)] += 1
            for zone in zones_by_track.get(track.track_id, ()):
                counts[CountKey(track.label, zone)] += 1
        self._current = dict(counts)

    @property
    def counts(self) -> dict[CountKey, int]:
        """Current non-zero counts (a copy)."""
        return dict(self._current)

    def changes(self) -> dict[CountKey, int]:
        """Counts that differ from the previous call's (drops to 0 included), sorted by key."""
        keys = sorted(self._current.keys() | self._reported.keys(), key=_sort_key)
        changed = {k: self._current.get(k, 0) for k in keys if self._current.get(k, 0) != self._reported.get(k, 0)}
        self._reported.update(changed)
        return changed
