"""docs/mqtt.md against what the real agent sends: one short run on the real pedestrian video with
a zone, a count line and a restricted-zone rule, so every JSON kind the document shows is sent."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.support import assets, mqtt_doc
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker
from tests.support.schemas import schema, validate_payload
from tests.support.subscriber import Received, Subscriber

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DEVICE = "dev1"
# Every kind the run below produces; a doc example of another kind is compared only if it shows up.
PRODUCED = frozenset({"detections", "event", "anomaly", "line-count", "line-crossing", "stats"})
SEEN_TIMEOUT_S = 120.0


def walkway() -> dict[str, object]:
    """People walk across the whole frame: a zone over all of it (restricted for persons) and a line down the middle."""
    return {
        "source": str(assets.video(assets.PEDESTRIANS)),
        "loop": True,
        "objects": ["person"],
        "zones": {"yard": {"points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}},
        "lines": {"middle": {"a": [0.5, 0.0], "b": [0.5, 1.0]}},
        "anomalies": {"restricted_zone": {"rules": [{"name": "no-people", "zone": "yard"}], "min_dwell_s": 0.5}},
    }


def by_schema(messages: list[Received], prefix: str) -> dict[str, list[Received]]:
    rows = mqtt_doc.topic_rows(mqtt_doc.MQTT_DOC.read_text(encoding="utf-8"))
    found: dict[str, list[Received]] = defaultdict(list)
    for msg in messages:
        name = mqtt_doc.schema_of_topic(rows, msg.topic, prefix, DEVICE)
        if name is not None:
            found[name].append(msg)
    return found


def test_doc_examples_have_the_fields_of_real_payloads(
    tmp_path: Path, broker: MosquittoBroker, topic_prefix: str, subscriber: Subscriber
) -> None:
    """Each JSON example in docs/mqtt.md has exactly the field names of the real payloads of its kind,
    and every real payload of that kind validates against the same schema."""
    config = base_config(tmp_path, broker, topic_prefix, {"walkway": walkway()})
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", config))
    try:
        seen = subscriber.wait_for(lambda msgs: by_schema(msgs, topic_prefix).keys() >= PRODUCED, SEEN_TIMEOUT_S)
        assert seen, (sorted(by_schema(subscriber.snapshot(), topic_prefix)), agent.log)
        code, _ = agent.terminate()
    finally:
        agent.close()
    assert code == 0, agent.log
    assert subscriber.wait_for(lambda msgs: any(m.payload == b"offline" for m in msgs), 10)
    real = by_schema(subscriber.snapshot(), topic_prefix)
    examples = mqtt_doc.examples(mqtt_doc.MQTT_DOC.read_text(encoding="utf-8"))
    compared = set()
    for example in examples:
        name = mqtt_doc.example_schema(example)
        if name not in real:
            continue
        payloads = [validate_payload(name, m.payload) for m in real[name]]
        real_keys = frozenset().union(*(mqtt_doc.key_paths(p, schema(name)) for p in payloads))
        doc_keys = mqtt_doc.key_paths(example.payload, schema(name))
        assert doc_keys == real_keys, (
            f"{example.where} ({name}): lacks {sorted(real_keys - doc_keys)}, shows unsent {sorted(doc_keys - real_keys)}"
        )
        compared.add(name)
    assert compared >= PRODUCED
    for stats in (m.json() for m in real["stats"]):
        for camera in stats["cameras"].values():
            assert camera["dropped"] == camera["rate_capped"] + camera["overwritten"]
