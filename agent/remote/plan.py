"""Plans a live reconcile from the running config to a new one: which cameras to start, stop
or restart and which subsystems to rebuild. Pure (two frozen configs in, a frozen plan out);
called by the supervisor on the main thread before it touches any worker."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from agent.config.schema import AgentConfig, CameraConfig

CAMERAS = "cameras"
MQTT = "mqtt"
# mqtt fields read afresh by the supervisor each time: changing them needs no reconnect.
MQTT_LIVE_FIELDS = frozenset({"stats_interval_s"})
MODEL_FIELDS = ("model", "model_dir")  # model_dir: catalogue models may resolve to another file


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """What changed between two configs. Camera names are sorted.

    Cameras are compared as the supervisor runs them: only enabled cameras count, so a
    camera switched to `enabled: false` is removed and one switched back on is added."""

    cameras_added: tuple[str, ...]
    cameras_removed: tuple[str, ...]
    cameras_restarted: tuple[str, ...]
    cameras_unchanged: tuple[str, ...]
    model_reload: bool
    mqtt_reconnect: bool
    other_changed: tuple[str, ...]  # top-level fields besides cameras, model, model_dir and mqtt

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
    )


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


__all__ = ["ReconcilePlan", "plan_reconcile"]
