"""Discovery configs reach a real mosquitto as retained messages, and removal clears them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config.outputs import DiscoveryConfig
from agent.config.schema import AgentConfig
from agent.publish.discovery import DiscoveryPlan, build_plan
from agent.publish.messages import OutboundMessage
from tests.support.broker import MosquittoBroker
from tests.support.subscriber import Received, Subscriber

pytestmark = pytest.mark.integration

SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]
FULL = {
    "front": {"source": "rtsp://cam/front", "objects": ["person"], "zones": {"porch": {"points": SQUARE}}},
    "back": {"source": "rtsp://cam/back", "objects": ["car"]},
}
SMALLER = {"front": {"source": "rtsp://cam/front", "objects": ["person"]}}


def plan_for(cameras: Mapping[str, Any], discovery_prefix: str, topic_prefix: str) -> DiscoveryPlan:
    config = AgentConfig.model_validate(
        {"device_id": "dev1", "mqtt": {"topic_prefix": topic_prefix}, "model": {"path": "ssd"}, "cameras": cameras}
    )
    return build_plan(config, DiscoveryConfig(enabled=True, discovery_prefix=discovery_prefix))


@pytest.fixture
def publisher(broker: MosquittoBroker) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(broker.host, broker.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


def publish_all(client: mqtt.Client, messages: list[OutboundMessage]) -> None:
    infos = [client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain) for m in messages]
    for info in infos:
        info.wait_for_publish(10)
        assert info.is_published()


def latest_by_topic(messages: list[Received]) -> dict[str, Received]:
    return {m.topic: m for m in messages}


def test_retained_configs_arrive_and_removal_clears_them(
    broker: MosquittoBroker, publisher: mqtt.Client, topic_prefix: str
) -> None:
    """A late subscriber gets every config retained; after a smaller plan's diff only the kept ones remain."""
    discovery_prefix = f"{topic_prefix}-ha"
    full = plan_for(FULL, discovery_prefix, topic_prefix)
    publish_all(publisher, DiscoveryPlan.diff(frozenset(), full))

    first = Subscriber(broker.host, broker.port, f"{discovery_prefix}/#")
    try:
        assert first.wait_for(lambda got: {m.topic for m in got} == full.topics)
        for message in first.snapshot():
            assert message.retain
            payload = json.loads(message.payload)
            assert payload["availability_topic"] == f"{topic_prefix}/dev1/status"
        smaller = plan_for(SMALLER, discovery_prefix, topic_prefix)
        removed = full.topics - smaller.topics
        assert removed
        publish_all(publisher, DiscoveryPlan.diff(full.topics, smaller))
        # the live subscriber sees an empty payload on every removed topic
        assert first.wait_for(lambda got: all(latest_by_topic(got)[t].payload == b"" for t in removed))
    finally:
        first.close()

    second = Subscriber(broker.host, broker.port, f"{discovery_prefix}/#")
    try:
        assert second.wait_for(lambda got: {m.topic for m in got} >= smaller.topics)
        # retained state on the broker: every kept config, no removed one (an empty retained payload deletes)
        publish_all(publisher, [OutboundMessage(f"{discovery_prefix}/zz/marker", b"end", 1, False, False)])
        assert second.wait_for(lambda got: any(m.topic.endswith("/marker") for m in got))
        seen = {m.topic for m in second.snapshot() if m.retain}
        assert seen == smaller.topics
    finally:
        second.close()
    publish_all(publisher, DiscoveryPlan.diff(smaller.topics, DiscoveryPlan(())))  # leave the broker clean
