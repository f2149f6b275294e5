"""The persisted anomaly state of one camera: typed records plus their JSON codec.

Pure: AnomalyEngine builds and loads these records, the analytics thread's AnomalyStage
writes `encode(state)` to disk and reads files back through `decode`, which checks every
field and names the first bad one. The JSON layout is the one devices already hold."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from agent.core.anomaly.common import AnomalyStateError

STATE_VERSION = 1  # stored under the JSON key "version"; bump it when the layout changes
HOURS_PER_WEEK = 168
HOURS_PER_DAY = 24

Slots = tuple[tuple[float, ...], ...]  # one rolling window's samples per slot, oldest first


@dataclass(frozen=True, slots=True)
class LabelLevels:
    """One label's count samples at the three baseline levels."""

    hour_of_week: Slots  # 168 slots
    hour_of_day: Slots  # 24 slots
    global_: Slots  # 1 slot; JSON key "global"
    learned: int  # buckets learned so far, for the warm-up


@dataclass(frozen=True, slots=True)
class CountBaselineState:
    """The count baseline; samples only mean something at the same bucket_s."""

    bucket_s: float
    labels: Mapping[str, LabelLevels]


@dataclass(frozen=True, slots=True)
class RareObjectState:
    """When the rare-object history began and each label's 24-bin hour-of-day histogram."""

    first_ts: float | None
    hours: Mapping[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class AnomalyState:
    """Everything worth keeping across restarts; None for a kind that was disabled."""

    schema_version: int
    camera: str
    count: CountBaselineState | None
    rare_object: RareObjectState | None


def encode(state: AnomalyState) -> str:
    """The JSON text of `state`, key for key what earlier releases wrote."""
    count = state.count
    rare = state.rare_object
    doc = {
        "version": state.schema_version,
        "camera": state.camera,
        "count": None if count is None else _count_doc(count),
        "rare_object": None if rare is None else _rare_doc(rare),
    }
    return json.dumps(doc)


def _rare_doc(rare: RareObjectState) -> dict[str, object]:
    return {"first_ts": rare.first_ts, "hours": {label: list(h) for label, h in rare.hours.items()}}


def _count_doc(count: CountBaselineState) -> dict[str, object]:
    labels = {
        label: {
            "hour_of_week": [list(s) for s in levels.hour_of_week],
            "hour_of_day": [list(s) for s in levels.hour_of_day],
            "global": [list(s) for s in levels.global_],
            "learned": levels.learned,
        }
        for label, levels in count.labels.items()
    }
    return {"bucket_s": count.bucket_s, "labels": labels}


def decode(text: str) -> AnomalyState:
    """Parse and check a saved state; AnomalyStateError names the first bad field."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise AnomalyStateError(f"not valid JSON ({exc})") from exc
    doc = _object(raw, "(file)", {"version", "camera", "count", "rare_object"})
    version = doc["version"]
    if type(version) is not int or version != STATE_VERSION:
        raise AnomalyStateError(f"version: {version!r} is not the supported schema version {STATE_VERSION}")
    camera = doc["camera"]
    if not isinstance(camera, str):
        raise AnomalyStateError("camera: expected a string")
    count, rare = doc["count"], doc["rare_object"]
    return AnomalyState(
        schema_version=version,
        camera=camera,
        count=None if count is None else _decode_count(count, "count"),
        rare_object=None if rare is None else _decode_rare(rare, "rare_object"),
    )


def _decode_count(raw: object, path: str) -> CountBaselineState:
    doc = _object(raw, path, {"bucket_s", "labels"})
    bucket_s = _number(doc["bucket_s"], f"{path}.bucket_s")
    if bucket_s <= 0:
        raise AnomalyStateError(f"{path}.bucket_s: expected a positive number")
    labels = _object(doc["labels"], f"{path}.labels")
    return CountBaselineState(bucket_s, {k: _decode_levels(v, f"{path}.labels.{k}") for k, v in labels.items()})


def _decode_levels(raw: object, path: str) -> LabelLevels:
    doc = _object(raw, path, {"hour_of_week", "hour_of_day", "global", "learned"})
    return LabelLevels(
        hour_of_week=_slots(doc["hour_of_week"], HOURS_PER_WEEK, f"{path}.hour_of_week"),
        hour_of_day=_slots(doc["hour_of_day"], HOURS_PER_DAY, f"{path}.hour_of_day"),
        global_=_slots(doc["global"], 1, f"{path}.global"),
        learned=_count_of(doc["learned"], f"{path}.learned"),
    )


def _decode_rare(raw: object, path: str) -> RareObjectState:
    doc = _object(raw, path, {"first_ts", "hours"})
    first = doc["first_ts"]
    first_ts = None if first is None else _number(first, f"{path}.first_ts")
    hours: dict[str, tuple[int, ...]] = {}
    for label, bins in _object(doc["hours"], f"{path}.hours").items():
        where = f"{path}.hours.{label}"
        if not isinstance(bins, list) or len(bins) != HOURS_PER_DAY:
            raise AnomalyStateError(f"{where}: expected a list of {HOURS_PER_DAY} counts")
        hours[label] = tuple(_count_of(v, f"{where}[{i}]") for i, v in enumerate(bins))
    return RareObjectState(first_ts, hours)


def _object(raw: object, path: str, keys: set[str] | None = None) -> dict[str, object]:
    """`raw` as a JSON object; with `keys`, exactly those keys (a new key needs a new version)."""
    if not isinstance(raw, dict):
        raise AnomalyStateError(f"{path}: expected a JSON object")
    if keys is not None:
        missing, extra = sorted(keys - raw.keys()), sorted(raw.keys() - keys)
        if missing:
            raise AnomalyStateError(f"{path}: missing key {missing[0]!r}")
        if extra:
            raise AnomalyStateError(f"{path}: unexpected key {extra[0]!r}")
    return raw


def _slots(raw: object, n_slots: int, path: str) -> Slots:
    if not isinstance(raw, list) or len(raw) != n_slots or not all(isinstance(s, list) for s in raw):
        raise AnomalyStateError(f"{path}: expected a list of {n_slots} lists")
    return tuple(tuple(_number(v, f"{path}[{i}][{j}]") for j, v in enumerate(s)) for i, s in enumerate(raw))


def _number(raw: object, path: str) -> float:
    # bool is an int subclass, and json.loads accepts NaN and Infinity: none is a sample
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise AnomalyStateError(f"{path}: expected a finite number")
    return float(raw)


def _count_of(raw: object, path: str) -> int:
    if type(raw) is not int or raw < 0:
        raise AnomalyStateError(f"{path}: expected a non-negative integer")
    return raw
