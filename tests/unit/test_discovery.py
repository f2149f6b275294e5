"""Home Assistant discovery: well-formed entity configs, unique ids, topic contract, control entities,
removal diff, state file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.config.outputs import DiscoveryConfig
from agent.config.schema import AgentConfig
from agent.errors import ConfigError
from agent.publish.discovery import (
    OCCUPANCY_TEMPLATE,
    STATE_FILE,
    DiscoveryPlan,
    anomaly_entities,
    build_plan,
    load_published_topics,
    make_context,
    save_published_topics,
    sync_discovery,
)
from agent.publish.messages import OutboundMessage
from agent.publish.topics import Topics
from agent.toggles import Toggle

SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]


def agent_config(cameras: dict[str, Any] | None = None) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "device_id": "dev1",
            "mqtt": {"topic_prefix": "edge"},
            "model": {"path": "ssd"},
            "cameras": cameras
            if cameras is not None
            else {
                "front": {
                    "source": "rtsp://cam/front",
                    "objects": ["person", "car", "sports ball"],
                    "zones": {"porch": {"points": SQUARE, "objects": ["person"]}, "drive": {"points": SQUARE}},
                },
                "back": {"source": "rtsp://cam/back"},
                "off": {"source": "rtsp://cam/off", "enabled": False},
            },
        }
    )


ENABLED = DiscoveryConfig(enabled=True)
TOPICS = Topics("edge", "dev1")


def payloads(plan: DiscoveryPlan) -> list[dict[str, Any]]:
    return [json.loads(entity.payload) for entity in plan.entities]


def by_component(plan: DiscoveryPlan, component: str) -> list[dict[str, Any]]:
    return [json.loads(e.payload) for e in plan.entities if e.component == component]


COMMON_KEYS = {"name", "unique_id", "default_entity_id", "device", "availability_topic", "payload_available"}
REQUIRED = {
    "binary_sensor": COMMON_KEYS | {"state_topic", "payload_on", "payload_off", "device_class"},
    "sensor": COMMON_KEYS | {"state_topic", "state_class", "unit_of_measurement"},
    "image": COMMON_KEYS | {"image_topic", "content_type"},
    "switch": COMMON_KEYS | {"command_topic", "state_topic", "payload_on", "payload_off", "state_on", "state_off"},
}


@pytest.mark.parametrize("component", sorted(REQUIRED))
def test_required_keys_per_component(component: str) -> None:
    """Every entity of a component carries the keys Home Assistant needs for it."""
    plan = build_plan(agent_config(), ENABLED, anomaly_kinds=("tamper",))
    found = by_component(plan, component)
    assert found
    for payload in found:
        assert REQUIRED[component] <= payload.keys(), payload["name"]
        assert payload["default_entity_id"].startswith(f"{component}.")


def test_device_and_availability_are_shared() -> None:
    """One device block per agent, and availability follows the agent's retained status (LWT) topic."""
    plan = build_plan(agent_config(), DiscoveryConfig(enabled=True, device_name="Garage Pi"), sw_version="9.9")
    for payload in payloads(plan):
        assert payload["device"] == {
            "identifiers": ["edge-vision-agent-dev1"],
            "name": "Garage Pi",
            "model": "edge-vision-agent",
            "manufacturer": "edge-vision-agent",
            "sw_version": "9.9",
        }
        assert payload["availability_topic"] == TOPICS.status()
        assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")


def test_unique_ids_and_topics_are_unique() -> None:
    """No two entities share a unique_id, a config topic or an entity id."""
    plan = build_plan(agent_config(), ENABLED, anomaly_kinds=("tamper", "crowd"))
    found = payloads(plan)
    assert len({p["unique_id"] for p in found}) == len(found)
    assert len({p["default_entity_id"] for p in found}) == len(found)
    assert len(plan.topics) == len(found)
    for entity in plan.entities:
        assert entity.topic.startswith(f"homeassistant/{entity.component}/dev1/")
        assert entity.topic.endswith("/config")


def test_entities_follow_the_topic_contract() -> None:
    """State and image topics are exactly the Topics contract's count, zone count, control and snapshot topics."""
    plan = build_plan(agent_config(), ENABLED)
    states = {p["state_topic"] for p in payloads(plan) if "state_topic" in p}
    images = {p["image_topic"] for p in by_component(plan, "image")}
    front = ("person", "car", "sports ball")
    back = ("person", "car")  # empty allow-list: the discovery default labels
    expected_states = {TOPICS.count("front", label) for label in front} | {TOPICS.count("back", x) for x in back}
    expected_states |= {TOPICS.zone_count("front", "porch", "person")}
    expected_states |= {TOPICS.zone_count("front", "drive", label) for label in front}
    expected_states |= {TOPICS.anomalies()}  # the anomaly kinds each camera's config enables
    for camera in ("front", "back"):  # runtime switches, motion and the all-objects count
        expected_states |= {TOPICS.toggle_state(camera, toggle) for toggle in Toggle}
        expected_states |= {TOPICS.motion(camera), TOPICS.all_count(camera)}
    assert states == expected_states
    assert images == {TOPICS.snapshot("front", x) for x in front} | {TOPICS.snapshot("back", x) for x in back}
    assert not any("/off/" in topic for topic in states | images)  # disabled camera: no entities


def test_occupancy_and_count_fields() -> None:
    """Occupancy reads the retained count with the ON/OFF template; counts are unit-bearing measurements."""
    plan = build_plan(agent_config(), ENABLED)
    occupancy = [p for p in by_component(plan, "binary_sensor") if p["device_class"] == "occupancy"]
    assert len(occupancy) == 5 + 1 + 3  # camera x label, porch x person, drive x front labels
    for payload in occupancy:
        assert payload["value_template"] == OCCUPANCY_TEMPLATE
        assert (payload["payload_on"], payload["payload_off"]) == ("ON", "OFF")
    for payload in by_component(plan, "sensor"):
        assert payload["state_class"] == "measurement"
    for payload in by_component(plan, "image"):
        assert payload["content_type"] == "image/jpeg"


def test_snapshots_off_means_no_image_entities() -> None:
    """With snapshot entities disabled, no image entity is announced."""
    plan = build_plan(agent_config(), DiscoveryConfig(enabled=True, snapshots=False))
    assert not by_component(plan, "image")


def test_zone_labels_respect_the_camera_allow_list() -> None:
    """A zone label the camera does not report gets no entity."""
    cameras = {"c": {"source": "rtsp://x", "objects": ["car"], "zones": {"z": {"points": SQUARE, "objects": ["dog"]}}}}
    plan = build_plan(agent_config(cameras), ENABLED)
    assert not [p for p in payloads(plan) if "/zones/" in p.get("state_topic", "")]


def test_anomaly_entities() -> None:
    """One problem binary_sensor per camera x kind, fed by the anomalies topic with a camera+kind filter."""
    ctx = make_context(agent_config(), ENABLED)
    entities = anomaly_entities(ctx, ["front", "back"], ["tamper", "loitering"])
    found = [json.loads(e.payload) for e in entities]
    assert len(found) == 4
    assert {e.component for e in entities} == {"binary_sensor"}
    for payload in found:
        assert payload["device_class"] == "problem"
        assert payload["state_topic"] == TOPICS.anomalies()
    tamper_front = next(p for p in found if p["name"] == "front tamper")
    assert 'value_json.camera == "front"' in tamper_front["value_template"]
    assert 'value_json.kind == "tamper"' in tamper_front["value_template"]
    with pytest.raises(ValueError, match="anomaly kind"):
        anomaly_entities(ctx, ["front"], ["a/b"])


def test_disabled_discovery_is_an_empty_plan() -> None:
    """Discovery off by default: the plan is empty, so a diff clears whatever was published before."""
    assert DiscoveryConfig().enabled is False
    assert build_plan(agent_config(), DiscoveryConfig()).entities == ()


def test_reserved_label_is_a_config_error() -> None:
    """A label that would collide with a fixed topic fails with a ConfigError naming it."""
    cameras = {"c": {"source": "rtsp://x", "objects": ["zones"]}}
    with pytest.raises(ConfigError, match="zones"):
        build_plan(agent_config(cameras), ENABLED)


def test_diff_clears_removed_entities_with_empty_retained_payloads() -> None:
    """Removing a camera, a zone or a label yields empty retained payloads for exactly its entities."""
    full = build_plan(agent_config(), ENABLED)
    smaller_cfg = {"front": {"source": "rtsp://cam/front", "objects": ["person"]}}
    smaller = build_plan(agent_config(smaller_cfg), ENABLED)
    messages = DiscoveryPlan.diff(full.topics, smaller)
    removals = [m for m in messages if m.payload == b""]
    assert {m.topic for m in removals} == full.topics - smaller.topics
    assert all(m.retain for m in messages)
    assert {m.topic for m in messages if m.payload} == smaller.topics
    assert messages.index(removals[-1]) < len(removals)  # removals go first


def test_diff_of_same_plan_has_no_removals() -> None:
    """Republishing an unchanged plan clears nothing."""
    plan = build_plan(agent_config(), ENABLED)
    assert all(m.payload for m in DiscoveryPlan.diff(plan.topics, plan))


def test_state_file_round_trip_and_restart_with_smaller_config(tmp_path: Path) -> None:
    """sync_discovery remembers what it published, so a restart with fewer cameras clears the rest."""
    sent: list[OutboundMessage] = []
    full = build_plan(agent_config(), ENABLED)
    sync_discovery(full, tmp_path, sent.append)
    assert load_published_topics(tmp_path) == full.topics
    sent.clear()
    smaller = build_plan(agent_config({"back": {"source": "rtsp://cam/back"}}), ENABLED)
    sync_discovery(smaller, tmp_path, sent.append)
    assert {m.topic for m in sent if m.payload == b""} == full.topics - smaller.topics
    assert load_published_topics(tmp_path) == smaller.topics
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("content", ["{not json", '{"topics": "x"}', "[1, 2]", '{"topics": [1]}'])
def test_unusable_state_file_reads_as_empty(tmp_path: Path, content: str) -> None:
    """A corrupt state file is ignored (nothing to clear) instead of stopping the agent."""
    (tmp_path / STATE_FILE).write_text(content)
    assert load_published_topics(tmp_path) == frozenset()


def test_missing_state_dir_is_created(tmp_path: Path) -> None:
    """Saving into a state directory that does not exist yet creates it."""
    save_published_topics(tmp_path / "new" / "state", ["a/b/config"])
    assert load_published_topics(tmp_path / "new" / "state") == {"a/b/config"}


def test_control_entities_per_camera() -> None:
    """Each enabled camera gets a detect and a snapshots switch on its set/state topics, a motion
    binary_sensor and an all-objects count sensor."""
    plan = build_plan(agent_config(), ENABLED)
    switches = {p["name"]: p for p in by_component(plan, "switch")}
    assert set(switches) == {"front detect", "front snapshots", "back detect", "back snapshots"}
    for camera in ("front", "back"):
        for toggle in Toggle:
            switch = switches[f"{camera} {toggle.value}"]
            assert switch["command_topic"] == TOPICS.toggle_set(camera, toggle) == f"edge/dev1/{camera}/{toggle}/set"
            assert switch["state_topic"] == TOPICS.toggle_state(camera, toggle)
            assert (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")
            assert (switch["state_on"], switch["state_off"]) == ("ON", "OFF")
    motion = {p["name"]: p for p in by_component(plan, "binary_sensor") if p["device_class"] == "motion"}
    assert {name: p["state_topic"] for name, p in motion.items()} == {
        "front motion": TOPICS.motion("front"),
        "back motion": TOPICS.motion("back"),
    }
    counts = {p["name"]: p["state_topic"] for p in by_component(plan, "sensor")}
    assert counts["front all count"] == TOPICS.all_count("front") == "edge/dev1/front/all"
    assert counts["back all count"] == TOPICS.all_count("back")


def test_no_snapshots_switch_when_snapshots_are_disabled() -> None:
    """With snapshots.enabled false the switch could not turn them on, so it is not announced."""
    base = agent_config()
    config = base.model_copy(update={"snapshots": base.snapshots.model_copy(update={"enabled": False})})
    names = {p["name"] for p in by_component(build_plan(config, ENABLED), "switch")}
    assert names == {"front detect", "back detect"}


def test_no_motion_sensor_without_a_motion_gate() -> None:
    """A camera whose motion gate is disabled never reports motion, so it gets no motion sensor."""
    cameras = {"c": {"source": "rtsp://x", "motion": {"enabled": False}}, "d": {"source": "rtsp://y"}}
    plan = build_plan(agent_config(cameras), ENABLED)
    motion = [p["name"] for p in by_component(plan, "binary_sensor") if p["device_class"] == "motion"]
    assert motion == ["d motion"]


def test_removed_camera_clears_its_control_entities() -> None:
    """Removing a camera clears its switches, motion sensor and all-objects count like its other entities."""
    full = build_plan(agent_config(), ENABLED)
    smaller = build_plan(agent_config({"back": {"source": "rtsp://cam/back"}}), ENABLED)
    removed = {m.topic for m in DiscoveryPlan.diff(full.topics, smaller) if m.payload == b""}
    assert removed == {e.topic for e in full.entities if "/camera/front/" in e.unique_id}
    controls = ("front/detect", "front/snapshots", "front/motion", "front/all/count")
    front_controls = {e.topic for e in full.entities if e.unique_id.endswith(controls)}
    assert len(front_controls) == 4
    assert front_controls <= removed


def second_stage_config() -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "device_id": "dev1",
            "mqtt": {"topic_prefix": "edge"},
            "model": {"path": "ssd"},
            "classifiers": [{"model": "vans.clf", "labels": ["car"], "cameras": ["front"]}],
            "cameras": {
                "front": {
                    "source": "rtsp://cam/front",
                    "states": {"door": {"model": "door.clf", "region": [0, 0, 0.5, 0.5]}},
                },
                "back": {"source": "rtsp://cam/back"},
            },
        }
    )


def render(template: str, value_json: dict[str, Any], this: dict[str, Any]) -> str:
    """Render an entity template as Home Assistant would (Jinja2, `this` = the entity's current state)."""
    import jinja2

    return jinja2.Environment().from_string(template).render(value_json=value_json, this=this)


def test_state_classifiers_get_a_sensor_of_their_topic() -> None:
    """Each camera state is a sensor reading `value` from <camera>/states/<name>, with score attributes."""
    sensors = [p for p in by_component(build_plan(second_stage_config(), ENABLED), "sensor") if "door" in p["name"]]
    assert len(sensors) == 1
    assert sensors[0]["state_topic"] == TOPICS.state("front", "door")
    assert render(sensors[0]["value_template"], {"value": "open", "score": 0.9}, {}) == "open"


def test_classified_labels_get_a_sub_label_sensor_that_ignores_other_events() -> None:
    """A sub_label sensor per camera and classified label: a matching event sets it, any other keeps it."""
    sensors = [
        p for p in by_component(build_plan(second_stage_config(), ENABLED), "sensor") if "sub label" in p["name"]
    ]
    assert [s["name"] for s in sensors] == ["front car sub label"]
    template = sensors[0]["value_template"]
    van = {
        "camera": "front",
        "label": "car",
        "sub_label": "van",
        "sub_label_score": 0.9,
        "event_id": "e",
        "type": "update",
    }
    assert render(template, van, {"state": "taxi"}) == "van"
    assert render(template, {**van, "camera": "back"}, {"state": "taxi"}) == "taxi"
    assert render(template, {**van, "sub_label": None}, {"state": "taxi"}) == "taxi"
    attributes = json.loads(render(sensors[0]["json_attributes_template"], van, {"attributes": {}}))
    assert attributes == {"sub_label_score": 0.9, "event_id": "e", "type": "update"}
