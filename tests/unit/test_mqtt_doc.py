"""docs/mqtt.md's JSON examples against docs/schemas, and the reader of the document (tests/support/mqtt_doc)."""

from __future__ import annotations

import pytest

from tests.support import mqtt_doc
from tests.support.mqtt_doc import DocExample, TopicRow
from tests.support.schemas import schema

DOC = mqtt_doc.MQTT_DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("example", mqtt_doc.examples(DOC), ids=lambda e: f"line{e.line}")
def test_every_json_example_validates_against_the_schema_of_its_section(example: DocExample) -> None:
    """Each JSON example in docs/mqtt.md is a valid payload of a topic its section heading names."""
    mqtt_doc.example_schema(example)


def test_every_json_topic_of_the_table_has_an_example() -> None:
    """Every topic whose schema describes a JSON object has at least one example in docs/mqtt.md."""
    json_schemas = {
        row.schema for row in mqtt_doc.topic_rows(DOC) if row.schema and schema(row.schema).get("type") == "object"
    }
    shown = {mqtt_doc.example_schema(example) for example in mqtt_doc.examples(DOC)}
    assert json_schemas
    assert json_schemas <= shown, f"no example for {sorted(json_schemas - shown)}"


SAMPLE = """\
| Topic | QoS | Schema |
|---|---|---|
| `<p>/<d>/stats` | 0 | [stats](schemas/stats.schema.json) |
| `<p>/<d>/<camera>/<label>` | 1 | [count](schemas/count.schema.json) |
| `<p>/<d>/<camera>/lines/<line>` | 1 | [line-count](schemas/line-count.schema.json) |
| `<p>/<d>/<camera>/lines/<line>/crossing` | 1 | [line-crossing](schemas/line-crossing.schema.json) |
| `<p>/<d>/<camera>/detect/set` | 1 | – |

### Lines: `<p>/<d>/<camera>/lines/<line>` and `…/lines/<line>/crossing`

```json
{"a": 1}
```

```json
{"b": 2}
{"c": 3}
```

### `<p>/<d>/<camera>/detect/set`

```json
{
  "d": 4
}
```
"""


def test_the_reader_maps_each_example_to_its_section_topics_schemas() -> None:
    """Blocks of one value or one value per line become examples with the schemas of the heading's
    topics (`…/x` naming the row ending in /x); a topic without a schema gives none."""
    found = [(e.line, e.payload, e.schemas) for e in mqtt_doc.examples(SAMPLE)]
    both = ("line-count", "line-crossing")
    assert found == [(12, {"a": 1}, both), (16, {"b": 2}, both), (17, {"c": 3}, both), (23, {"d": 4}, ())]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("edge/a/b/dev1/stats", "stats"),
        ("edge/a/b/dev1/gate/person", "count"),
        ("edge/a/b/dev1/gate/lines/middle", "line-count"),
        ("edge/a/b/dev1/gate/lines/middle/crossing", "line-crossing"),
        ("edge/a/b/dev1/gate/detect/set", None),
        ("edge/a/b/dev1/gate/person/snapshot/extra", None),
        ("other/dev1/stats", None),
    ],
)
def test_a_real_topic_gets_the_schema_of_its_most_specific_row(topic: str, expected: str | None) -> None:
    """A literal level beats a placeholder (`lines/<line>` over `<label>`); the prefix may hold `/`."""
    assert mqtt_doc.schema_of_topic(mqtt_doc.topic_rows(SAMPLE), topic, "edge/a/b", "dev1") == expected


def test_key_paths_follow_fixed_fields_and_merge_maps_keyed_by_data() -> None:
    """Camera names and anomaly details are data, not fields: they become `*` or nothing."""
    stats = {"cameras": {"a": {"frames": 1}, "b": {"frames": 2, "dropped": 0}}, "publisher": {"connected": True}}
    assert mqtt_doc.key_paths(stats, schema("stats")) == {
        "cameras",
        "cameras.*.frames",
        "cameras.*.dropped",
        "publisher",
        "publisher.connected",
    }
    anomaly = {"details": {"observed": 1.0}, "event_ids": ["x"]}
    assert mqtt_doc.key_paths(anomaly, schema("anomaly")) == {"details", "event_ids"}
    frame = {"detections": [{"label": "person"}, {"score": 0.5}]}
    assert mqtt_doc.key_paths(frame, schema("detections")) == {
        "detections",
        "detections.[].label",
        "detections.[].score",
    }


def test_topic_rows_read_the_schema_link_or_none() -> None:
    """A row links its schema by file name; `–` means the payload has no schema."""
    rows = mqtt_doc.topic_rows(SAMPLE)
    assert rows[0] == TopicRow("<p>/<d>/stats", "stats")
    assert rows[-1] == TopicRow("<p>/<d>/<camera>/detect/set", None)
