"""Home Assistant MQTT discovery: the retained entity configs that describe this agent.

Pure builders turn the AgentConfig into a `DiscoveryPlan` (one device per agent,
entities per camera x label, zone x label and camera x anomaly kind, and per camera its detect and
snapshots switches, motion and all-objects count); `DiscoveryPlan.diff` adds empty retained
payloads for entities that disappeared. `sync_discovery` persists the published topics
in <state_dir>/discovery.json. Called by the supervisor (main thread) at start and reload."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent import __version__
from agent.config.outputs import DiscoveryConfig
from agent.config.schema import AgentConfig, CameraConfig
from agent.core.anomaly import anomaly_kinds as enabled_anomaly_kinds
from agent.errors import ConfigError
from agent.publish.messages import STATUS_OFFLINE, STATUS_ONLINE, SWITCH_OFF, SWITCH_ON, OutboundMessage, dumps
from agent.publish.topics import Topics, check_level
from agent.storage.atomic_file import write_atomic
from agent.toggles import Toggle

log = logging.getLogger(__name__)

STATE_FILE = "discovery.json"
STATE_VERSION = 1
PRODUCT = "edge-vision-agent"
OCCUPANCY_TEMPLATE = "{{ 'ON' if value|int > 0 else 'OFF' }}"
PAYLOAD_ON = SWITCH_ON.decode()
PAYLOAD_OFF = SWITCH_OFF.decode()
COUNT_UNIT = "objects"
IMAGE_CONTENT_TYPE = "image/jpeg"
UNIQUE_ID_SEPARATOR = "/"  # cannot occur in a camera, zone, label or device name, so ids stay unique
HASH_CHARS = 8
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class DiscoveryEntity:
    """One Home Assistant entity: its retained config topic and JSON payload."""

    component: str
    unique_id: str
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class DiscoveryContext:
    """What every entity of this agent shares: topics, the device block, availability."""

    topics: Topics
    discovery_prefix: str
    device: Mapping[str, object]
    origin: Mapping[str, object]

    @property
    def node_id(self) -> str:
        return self.topics.device_id


@dataclass(frozen=True, slots=True)
class DiscoveryPlan:
    """Every entity this agent should have in Home Assistant right now."""

    entities: tuple[DiscoveryEntity, ...]
    qos: int = 1

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(entity.topic for entity in self.entities)

    def messages(self) -> list[OutboundMessage]:
        return [OutboundMessage(e.topic, e.payload, self.qos, True, True) for e in self.entities]

    @staticmethod
    def diff(previous_topics: Iterable[str], current: DiscoveryPlan) -> list[OutboundMessage]:
        """Empty retained payloads for entities that are gone (removes them), then every current config."""
        stale = sorted(set(previous_topics) - current.topics)
        removals = [OutboundMessage(topic, b"", current.qos, True, True) for topic in stale]
        return removals + current.messages()


def slug(text: str) -> str:
    """Lower-case letters, digits and underscores, as Home Assistant entity ids need."""
    return _NOT_SLUG.sub("_", text.lower()).strip("_") or "x"


def make_context(config: AgentConfig, discovery: DiscoveryConfig, sw_version: str = __version__) -> DiscoveryContext:
    device = {
        "identifiers": [f"{PRODUCT}-{config.device_id}"],
        "name": discovery.device_name or config.device_id,
        "model": PRODUCT,
        "manufacturer": PRODUCT,
        "sw_version": sw_version,
    }
    origin = {"name": PRODUCT, "sw_version": sw_version}
    return DiscoveryContext(
        Topics(config.mqtt.topic_prefix, config.device_id), discovery.discovery_prefix, device, origin
    )


def make_entity(
    ctx: DiscoveryContext, component: str, parts: Sequence[str], name: str, fields: Mapping[str, object]
) -> DiscoveryEntity:
    """An entity whose unique_id is built from `parts`; the shared device and availability are added."""
    unique_id = UNIQUE_ID_SEPARATOR.join((PRODUCT, ctx.node_id, *parts))
    digest = hashlib.sha1(unique_id.encode("utf-8"), usedforsecurity=False).hexdigest()[:HASH_CHARS]
    readable = "_".join(slug(part) for part in parts)
    object_id = f"{readable}_{digest}"
    payload: dict[str, object] = {
        "name": name,
        "unique_id": unique_id,
        "default_entity_id": f"{component}.{slug(ctx.node_id)}_{readable}",
        "device": dict(ctx.device),
        "origin": dict(ctx.origin),
        "availability_topic": ctx.topics.status(),
        "payload_available": STATUS_ONLINE.decode(),
        "payload_not_available": STATUS_OFFLINE.decode(),
        **fields,
    }
    topic = f"{ctx.discovery_prefix}/{component}/{ctx.node_id}/{object_id}/config"
    return DiscoveryEntity(component, unique_id, topic, dumps(payload))


def occupancy_entity(ctx: DiscoveryContext, state_topic: str, parts: Sequence[str], name: str) -> DiscoveryEntity:
    fields = {
        "state_topic": state_topic,
        "value_template": OCCUPANCY_TEMPLATE,
        "payload_on": PAYLOAD_ON,
        "payload_off": PAYLOAD_OFF,
        "device_class": "occupancy",
    }
    return make_entity(ctx, "binary_sensor", (*parts, "occupancy"), f"{name} occupancy", fields)


def count_entity(ctx: DiscoveryContext, state_topic: str, parts: Sequence[str], name: str) -> DiscoveryEntity:
    fields = {"state_topic": state_topic, "state_class": "measurement", "unit_of_measurement": COUNT_UNIT}
    return make_entity(ctx, "sensor", (*parts, "count"), f"{name} count", fields)


def image_entity(ctx: DiscoveryContext, camera: str, label: str) -> DiscoveryEntity:
    fields = {"image_topic": ctx.topics.snapshot(camera, label), "content_type": IMAGE_CONTENT_TYPE}
    return make_entity(ctx, "image", ("camera", camera, label, "snapshot"), f"{camera} {label} snapshot", fields)


def anomaly_entities(ctx: DiscoveryContext, cameras: Iterable[str], kinds: Sequence[str]) -> list[DiscoveryEntity]:
    """A problem binary_sensor per camera x anomaly kind, fed by the shared anomalies topic.

    Messages of other cameras or kinds keep the entity's current state (`this.state`)."""
    entities = []
    for camera in cameras:
        for kind in kinds:
            check_level("anomaly kind", kind)
            template = (
                f"{{% if value_json.camera == {json.dumps(camera)} and value_json.kind == {json.dumps(kind)} %}}"
                f"{{{{ '{PAYLOAD_ON}' if value_json.state == 'active' else '{PAYLOAD_OFF}' }}}}"
                f"{{% else %}}{{{{ {{'on': '{PAYLOAD_ON}', 'off': '{PAYLOAD_OFF}'}}.get(this.state, 'None') }}}}"
                "{% endif %}"
            )
            fields = {
                "state_topic": ctx.topics.anomalies(),
                "value_template": template,
                "payload_on": PAYLOAD_ON,
                "payload_off": PAYLOAD_OFF,
                "device_class": "problem",
            }
            parts = ("camera", camera, "anomaly", kind)
            entities.append(make_entity(ctx, "binary_sensor", parts, f"{camera} {kind}", fields))
    return entities


def toggle_entity(ctx: DiscoveryContext, camera: str, toggle: Toggle) -> DiscoveryEntity:
    """A switch commanding `<camera>/<toggle>/set` and showing the retained `<camera>/<toggle>/state`."""
    fields = {
        "command_topic": ctx.topics.toggle_set(camera, toggle),
        "state_topic": ctx.topics.toggle_state(camera, toggle),
        "payload_on": PAYLOAD_ON,
        "payload_off": PAYLOAD_OFF,
        "state_on": PAYLOAD_ON,
        "state_off": PAYLOAD_OFF,
    }
    return make_entity(ctx, "switch", ("camera", camera, toggle.value), f"{camera} {toggle.value}", fields)


def control_entities(
    ctx: DiscoveryContext, camera: str, cfg: CameraConfig, snapshots_available: bool
) -> list[DiscoveryEntity]:
    """The camera's runtime switches, its motion sensor (when its motion gate runs) and its all-objects count.

    No snapshots switch when snapshots are disabled in the config: it could not turn them on."""
    toggles = [Toggle.DETECT, Toggle.SNAPSHOTS] if snapshots_available else [Toggle.DETECT]
    entities = [toggle_entity(ctx, camera, toggle) for toggle in toggles]
    if cfg.motion.enabled:
        fields = {
            "state_topic": ctx.topics.motion(camera),
            "payload_on": PAYLOAD_ON,
            "payload_off": PAYLOAD_OFF,
            "device_class": "motion",
        }
        entities.append(make_entity(ctx, "binary_sensor", ("camera", camera, "motion"), f"{camera} motion", fields))
    entities.append(count_entity(ctx, ctx.topics.all_count(camera), ("camera", camera, "all"), f"{camera} all"))
    return entities


def state_entity(ctx: DiscoveryContext, camera: str, state: str) -> DiscoveryEntity:
    """A sensor showing a state classifier's answer (`value`), with its score and time as attributes."""
    topic = ctx.topics.state(camera, state)
    fields = {
        "state_topic": topic,
        "value_template": "{{ value_json.value }}",
        "json_attributes_topic": topic,
        "json_attributes_template": "{{ {'score': value_json.score, 'ts': value_json.ts} | tojson }}",
    }
    return make_entity(ctx, "sensor", ("camera", camera, "state", state), f"{camera} {state}", fields)


def sub_label_entity(ctx: DiscoveryContext, camera: str, label: str) -> DiscoveryEntity:
    """A sensor showing the sub_label of the camera's latest `label` event that has one (a second-stage
    classifier's answer), with its score and event id as attributes; other events keep its state."""
    match = f"value_json.camera == {json.dumps(camera)} and value_json.label == {json.dumps(label)} and value_json.sub_label"
    fields = {
        "state_topic": ctx.topics.events(),
        "value_template": f"{{% if {match} %}}{{{{ value_json.sub_label }}}}{{% else %}}{{{{ this.state }}}}{{% endif %}}",
        "json_attributes_topic": ctx.topics.events(),
        "json_attributes_template": (
            f"{{% if {match} %}}{{{{ {{'sub_label_score': value_json.sub_label_score, 'event_id': value_json.event_id,"
            " 'type': value_json.type} | tojson }}{% else %}{{ this.attributes | tojson }}{% endif %}"
        ),
    }
    parts = ("camera", camera, label, "sub_label")
    return make_entity(ctx, "sensor", parts, f"{camera} {label} sub label", fields)


def classified_labels(config: AgentConfig, camera: str) -> tuple[str, ...]:
    """The labels a second-stage classifier gives sub_labels to on this camera."""
    found = (label for c in config.classifiers if not c.cameras or camera in c.cameras for label in c.labels)
    return tuple(dict.fromkeys(found))


def camera_labels(camera: CameraConfig, default_labels: Sequence[str]) -> tuple[str, ...]:
    """The camera's `objects` allow-list, or the discovery default labels when it is empty."""
    return tuple(dict.fromkeys(camera.objects or default_labels))


def zone_labels(camera: CameraConfig, zone_objects: Sequence[str], default_labels: Sequence[str]) -> tuple[str, ...]:
    """The zone's own labels that the camera reports, or the camera's labels when the zone lists none."""
    labels = camera_labels(camera, default_labels)
    if not zone_objects:
        return labels
    return tuple(label for label in dict.fromkeys(zone_objects) if not camera.objects or label in camera.objects)


def camera_entities(
    ctx: DiscoveryContext, camera: str, cfg: CameraConfig, discovery: DiscoveryConfig
) -> list[DiscoveryEntity]:
    entities = []
    for label in camera_labels(cfg, discovery.labels):
        parts = ("camera", camera, label)
        entities.append(occupancy_entity(ctx, ctx.topics.count(camera, label), parts, f"{camera} {label}"))
        entities.append(count_entity(ctx, ctx.topics.count(camera, label), parts, f"{camera} {label}"))
        if discovery.snapshots:
            entities.append(image_entity(ctx, camera, label))
    for zone, zone_cfg in cfg.zones.items():
        for label in zone_labels(cfg, zone_cfg.objects, discovery.labels):
            topic = ctx.topics.zone_count(camera, zone, label)
            zone_parts = ("camera", camera, "zone", zone, label)
            entities.append(occupancy_entity(ctx, topic, zone_parts, f"{camera} {zone} {label}"))
            entities.append(count_entity(ctx, topic, zone_parts, f"{camera} {zone} {label}"))
    entities.extend(state_entity(ctx, camera, state) for state in cfg.states)
    return entities


def build_plan(
    config: AgentConfig,
    discovery: DiscoveryConfig,
    sw_version: str = __version__,
    anomaly_kinds: Sequence[str] | None = None,
) -> DiscoveryPlan:
    """Every entity for the enabled cameras; an empty plan when discovery is disabled (clears all).

    Anomaly entities cover the kinds each camera's anomaly config enables, unless `anomaly_kinds` is given."""
    if not discovery.enabled:
        return DiscoveryPlan((), discovery.qos)
    ctx = make_context(config, discovery, sw_version)
    cameras = [name for name, cfg in config.cameras.items() if cfg.enabled]
    entities: list[DiscoveryEntity] = []
    try:
        for name in cameras:
            entities.extend(camera_entities(ctx, name, config.cameras[name], discovery))
            entities.extend(control_entities(ctx, name, config.cameras[name], config.snapshots.enabled))
            kinds = enabled_anomaly_kinds(config.cameras[name].anomalies) if anomaly_kinds is None else anomaly_kinds
            entities.extend(anomaly_entities(ctx, [name], kinds))
            entities.extend(sub_label_entity(ctx, name, label) for label in classified_labels(config, name))
    except ValueError as exc:
        raise ConfigError(f"home assistant discovery: {exc}; rename it in the config") from exc
    return DiscoveryPlan(tuple(entities), discovery.qos)


def load_published_topics(state_dir: Path) -> frozenset[str]:
    """Discovery topics published by an earlier run; empty (with a warning) if the file is unusable."""
    path = state_dir / STATE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return frozenset()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s (%s): stale Home Assistant entities will not be removed", path, exc)
        return frozenset()
    topics = document.get("topics") if isinstance(document, dict) else None
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        log.warning("ignoring %s: it has no list of topics", path)
        return frozenset()
    return frozenset(topics)


def save_published_topics(state_dir: Path, topics: Iterable[str]) -> None:
    """Write the topic list atomically (temp file, fsync, rename)."""
    data = json.dumps({"version": STATE_VERSION, "topics": sorted(topics)}, indent=1).encode("utf-8")
    write_atomic(state_dir / STATE_FILE, data)


def sync_discovery(plan: DiscoveryPlan, state_dir: Path, send: Callable[[OutboundMessage], None]) -> int:
    """Publish the plan and the removals since the last run, then remember the plan's topics."""
    messages = DiscoveryPlan.diff(load_published_topics(state_dir), plan)
    for message in messages:
        send(message)
    save_published_topics(state_dir, plan.topics)
    return len(messages)
