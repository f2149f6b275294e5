"""Plans a live reconcile from the running config to a new one: which cameras to start, stop
or restart and which subsystems to rebuild. Pure (two frozen configs in, a frozen plan out);
called on the config thread before the reconciler touches any worker."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from agent.config.schema import AgentConfig, CameraConfig

CAMERAS = "cameras"
MQTT = "mqtt"
# mqtt fields read afresh by the daemon each time: changing them needs no reconnect.
MQTT_LIVE_FIELDS = frozenset({"stats_interval_s"})
MODEL_FIELDS = ("model", "model_dir")  # model_dir: catalogue models may resolve to another file
# Read once when the agent starts (agent.daemon.root builds these parts only then): a change is
# persisted and reported applied_restart_required with these names, never silently "applied".
START_ONLY_FIELDS = (
    "state_dir",  # outbox, toggles, discovery and snapshot store open files under it at start
    "log_level",  # logging is configured by the CLI before the agent is built
    "metrics",  # the exporter (enabled, port, address) is started once
    "snapshots.enabled",  # the snapshot worker exists or not from the start
    "snapshots.save",
    "snapshots.save_dir",
    "classifiers",  # the second stage (agent.classify.stage) loads its models once
    "datasets",
    "storage",  # the event store and clip recorder are built once (agent.daemon.local)
    "http",  # the web server listens once
)
OUTBOX = "outbox"  # read when a publisher is built: at start and on a broker reconnect only


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """What changed between two configs. Camera names are sorted.

    Cameras are compared as the daemon runs them: only enabled cameras count, so a
    camera switched to `enabled: false` is removed and one switched back on is added."""

    cameras_added: tuple[str, ...]
    cameras_removed: tuple[str, ...]
    cameras_restarted: tuple[str, ...]
    cameras_unchanged: tuple[str, ...]
    model_reload: bool
    mqtt_reconnect: bool
    other_changed: tuple[str, ...]  # top-level fields besides cameras, model, model_dir and mqtt
    restart_required: tuple[str, ...] = ()  # dotted fields that changed but are only read at start

    @property
    def is_noop(self) -> bool:
        """True when applying the new config needs no action at all."""
        changes = (self.cameras_added, self.cameras_removed, self.cameras_restarted, self.other_changed)
        return not any(changes) and not self.model_reload and not self.mqtt_reconnect


def plan_reconcile(old: AgentConfig, new: AgentConfig) -> ReconcilePlan:
    """Compare two validated configs field by field (model_dump equality)."""
    before = _running(old)
    after = _running(new)
    kept = sorted(before.keys() & after.keys())
    return ReconcilePlan(
        cameras_added=tuple(sorted(after.keys() - before.keys())),
        cameras_removed=tuple(sorted(before.keys() - after.keys())),
        cameras_restarted=tuple(name for name in kept if not _same(before[name], after[name])),
        cameras_unchanged=tuple(name for name in kept if _same(before[name], after[name])),
        model_reload=any(_field_changed(old, new, name) for name in MODEL_FIELDS),
        mqtt_reconnect=_mqtt_connection_changed(old, new),
        other_changed=tuple(
            name
            for name in AgentConfig.model_fields
            if name not in (CAMERAS, MQTT, *MODEL_FIELDS) and _field_changed(old, new, name)
        ),
        restart_required=restart_required(old, new),
    )


def restart_required(old: AgentConfig, new: AgentConfig) -> tuple[str, ...]:
    """Changed fields that only take effect at start, by dotted name (sub-fields named when they differ)."""
    changed = [name for name in START_ONLY_FIELDS if _value(old, name) != _value(new, name)]
    if _mqtt_connection_changed(old, new) is False and _value(old, OUTBOX) != _value(new, OUTBOX):
        changed.append(OUTBOX)
    states = [  # state classifiers are loaded with the second stage, at start
        f"{CAMERAS}.{name}.states"
        for name in sorted(old.cameras.keys() | new.cameras.keys())
        if _states(old, name) != _states(new, name)
    ]
    return (*(field for name in changed for field in _detail(old, new, name)), *states)


def _states(cfg: AgentConfig, camera: str) -> object:
    found = cfg.cameras.get(camera)
    return {} if found is None or not found.enabled else {k: v.model_dump() for k, v in found.states.items()}


def _value(cfg: AgentConfig, dotted: str) -> object:
    value: object = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value.model_dump() if isinstance(value, BaseModel) else value


def _detail(old: AgentConfig, new: AgentConfig, dotted: str) -> list[str]:
    """`metrics` -> [`metrics.enabled`, `metrics.port`] when only those differ: the reply names real fields."""
    before, after = _value(old, dotted), _value(new, dotted)
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        return [f"{dotted}.{key}" for key in keys]
    return [dotted]


def _running(cfg: AgentConfig) -> dict[str, CameraConfig]:
    return {name: camera for name, camera in cfg.cameras.items() if camera.enabled}


def _same(a: CameraConfig, b: CameraConfig) -> bool:
    return a.model_dump() == b.model_dump()


def _mqtt_connection_changed(old: AgentConfig, new: AgentConfig) -> bool:
    before = old.mqtt.model_dump(exclude=set(MQTT_LIVE_FIELDS))
    return bool(before != new.mqtt.model_dump(exclude=set(MQTT_LIVE_FIELDS)))


def _field_changed(old: AgentConfig, new: AgentConfig, name: str) -> bool:
    before = getattr(old, name)
    after = getattr(new, name)
    if isinstance(before, BaseModel) and isinstance(after, BaseModel):
        return before.model_dump() != after.model_dump()
    return bool(before != after)


__all__ = ["START_ONLY_FIELDS", "ReconcilePlan", "plan_reconcile", "restart_required"]
