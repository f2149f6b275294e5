"""Unit tests of the persisted anomaly state's records and JSON codec (agent.core.anomaly.state)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import pytest

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly import AnomalyEngine, AnomalyStateError
from agent.core.anomaly.state import STATE_VERSION, decode, encode
from agent.types import BBox, Track, TrackState

T0 = 1_717_200_000.0  # Saturday 00:00 UTC

Doc = dict[str, object]


def legacy_doc() -> Doc:
    """A state file as the dict-based AnomalyEngine.to_state() of earlier releases wrote it (json.dumps of this)."""
    week: list[list[float]] = [[] for _ in range(168)]
    week[0] = [1.0, 2.0, 0.5]
    day: list[list[float]] = [[] for _ in range(24)]
    day[0] = [1.0, 2.0, 0.5]
    hours = [0] * 24
    hours[13] = 7
    return {
        "version": 1,
        "camera": "driveway",
        "count": {
            "bucket_s": 60.0,
            "labels": {
                "person": {"hour_of_week": week, "hour_of_day": day, "global": [[1.0, 2.0, 0.5]], "learned": 3},
            },
        },
        "rare_object": {"first_ts": 1717200000.25, "hours": {"person": hours}},
    }


def test_a_file_in_the_earlier_format_decodes_and_encodes_to_the_same_bytes() -> None:
    """Devices' existing state files load: every field comes through, and re-encoding writes the file unchanged."""
    text = json.dumps(legacy_doc())
    state = decode(text)
    assert (state.schema_version, state.camera) == (STATE_VERSION, "driveway")
    assert state.count is not None
    assert state.count.bucket_s == 60.0
    person = state.count.labels["person"]
    assert person.hour_of_week[0] == (1.0, 2.0, 0.5)
    assert len(person.hour_of_week) == 168
    assert person.hour_of_day[0] == (1.0, 2.0, 0.5)
    assert person.global_ == ((1.0, 2.0, 0.5),)
    assert person.learned == 3
    assert state.rare_object is not None
    assert state.rare_object.first_ts == 1717200000.25
    assert state.rare_object.hours["person"][13] == 7
    assert encode(state) == text


def test_disabled_kinds_are_null_and_a_history_not_started_has_no_first_ts() -> None:
    """count and rare_object may be null, and rare_object.first_ts too."""
    doc = legacy_doc()
    doc["count"] = None
    doc["rare_object"] = {"first_ts": None, "hours": {}}
    state = decode(json.dumps(doc))
    assert state.count is None
    assert state.rare_object is not None
    assert (state.rare_object.first_ts, dict(state.rare_object.hours)) == (None, {})


def _sub(doc: Doc, *keys: str) -> Doc:
    """The nested object at `keys`, to edit in place."""
    for key in keys:
        inner = doc[key]
        assert isinstance(inner, dict)
        doc = inner
    return doc


def _count(doc: Doc) -> Doc:
    return _sub(doc, "count")


def _person(doc: Doc) -> Doc:
    return _sub(doc, "count", "labels", "person")


def _rare(doc: Doc) -> Doc:
    return _sub(doc, "rare_object")


def _set(edit: Callable[[Doc], object]) -> str:
    """A legacy file with one edit applied."""
    doc = legacy_doc()
    edit(doc)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "(file): expected a JSON object"),
        (_set(lambda d: d.update(version=2)), "version: 2 is not the supported schema version 1"),
        (_set(lambda d: d.update(version="1")), "version: '1' is not the supported schema version 1"),
        (_set(lambda d: d.update(version=True)), "version: True is not"),
        (_set(lambda d: d.pop("version")), "(file): missing key 'version'"),
        (_set(lambda d: d.update(extra=1)), "(file): unexpected key 'extra'"),
        (_set(lambda d: d.update(camera=3)), "camera: expected a string"),
        (_set(lambda d: d.update(count=[])), "count: expected a JSON object"),
        (_set(lambda d: _count(d).update(bucket_s="60")), "count.bucket_s: expected a finite number"),
        (_set(lambda d: _count(d).update(bucket_s=0)), "count.bucket_s: expected a positive number"),
        (_set(lambda d: _count(d).update(labels=[])), "count.labels: expected a JSON object"),
        (
            _set(lambda d: _person(d).update(hour_of_day=[[]] * 23)),
            "count.labels.person.hour_of_day: expected a list of 24 lists",
        ),
        (
            _set(lambda d: _person(d).update(hour_of_week=[1.0] * 168)),
            "count.labels.person.hour_of_week: expected a list of 168 lists",
        ),
        (
            _set(lambda d: _person(d).update({"global": [[], []]})),
            "count.labels.person.global: expected a list of 1 lists",
        ),
        (
            _set(lambda d: _person(d).update({"global": [[1.0, "x"]]})),
            "count.labels.person.global[0][1]: expected a finite number",
        ),
        (
            _set(lambda d: _person(d).update({"global": [[float("nan")]]})),
            "count.labels.person.global[0][0]: expected a finite number",
        ),
        (_set(lambda d: _person(d).update(learned=-1)), "count.labels.person.learned: expected a non-negative integer"),
        (
            _set(lambda d: _person(d).update(learned=2.5)),
            "count.labels.person.learned: expected a non-negative integer",
        ),
        (_set(lambda d: _person(d).pop("learned")), "count.labels.person: missing key 'learned'"),
        (_set(lambda d: _rare(d).update(first_ts="now")), "rare_object.first_ts: expected a finite number"),
        (
            _set(lambda d: _rare(d).update(hours={"cat": [0] * 23})),
            "rare_object.hours.cat: expected a list of 24 counts",
        ),
        (
            _set(lambda d: _rare(d).update(hours={"cat": [0] * 23 + [1.5]})),
            "rare_object.hours.cat[23]: expected a non-negative integer",
        ),
    ],
)
def test_a_malformed_or_foreign_file_is_refused_naming_the_field(text: str, message: str) -> None:
    """decode raises AnomalyStateError whose message starts at the path of the first bad field."""
    with pytest.raises(AnomalyStateError) as caught:
        decode(text)
    assert str(caught.value).startswith(message)


def _people(n: int, ts: float) -> list[Track]:
    return [Track(i, "person", BBox(0, 0, 5, 5), 0.9, TrackState.CONFIRMED, ts, ts, 5) for i in range(n)]


def test_an_engine_state_survives_encode_and_decode_and_loads_into_a_new_engine() -> None:
    """What a live engine saves decodes to an equal record, which a fresh engine loads and saves again unchanged."""
    ids = itertools.count(1)
    engine = AnomalyEngine("cam", AnomalyConfig(), lambda: f"e{next(ids)}")
    for k in range(10):
        engine.update(T0 + k * 60, _people(k % 3, T0 + k * 60), {}, None, None)
    text = encode(engine.to_state())
    assert decode(text) == engine.to_state()
    fresh = AnomalyEngine("cam", AnomalyConfig(), lambda: f"f{next(ids)}")
    fresh.from_state(decode(text))
    assert encode(fresh.to_state()) == text
