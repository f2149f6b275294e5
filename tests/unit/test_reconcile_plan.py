"""plan_reconcile says exactly which cameras to start, stop or restart and which subsystems changed."""

from __future__ import annotations

from typing import Any

import pytest

from agent.config.schema import AgentConfig
from agent.remote.merge_patch import apply_merge_patch
from agent.remote.plan import ReconcilePlan, plan_reconcile

BASE: dict[str, Any] = {
    "device_id": "dev1",
    "model": {"path": "ssd-mobilenet"},
    "cameras": {
        "front": {"source": "/dev/video0"},
        "back": {"source": "rtsp://10.0.0.5/stream"},
        "spare": {"source": "/dev/video2", "enabled": False},
    },
}

# (case id, merge patch applied to BASE, expected plan fields that differ from "nothing changed").
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("identical", {}, {}),
    ("add camera", {"cameras": {"side": {"source": "/dev/video1"}}}, {"cameras_added": ("side",)}),
    ("remove camera", {"cameras": {"back": None}}, {"cameras_removed": ("back",)}),
    ("change camera fps", {"cameras": {"front": {"detect_fps": 2.0}}}, {"cameras_restarted": ("front",)}),
    (
        "change nested zone",
        {"cameras": {"back": {"zones": {"door": {"points": [[0, 0], [10, 0], [10, 10]]}}}}},
        {"cameras_restarted": ("back",)},
    ),
    ("disable camera", {"cameras": {"front": {"enabled": False}}}, {"cameras_removed": ("front",)}),
    ("enable camera", {"cameras": {"spare": {"enabled": True}}}, {"cameras_added": ("spare",)}),
    ("edit disabled camera", {"cameras": {"spare": {"detect_fps": 1.0}}}, {}),
    ("model score", {"model": {"min_score": 0.7}}, {"model_reload": True}),
    ("model dir", {"model_dir": "/srv/models"}, {"model_reload": True}),
    ("mqtt host", {"mqtt": {"host": "broker.lan"}}, {"mqtt_reconnect": True}),
    ("log level", {"log_level": "DEBUG"}, {"other_changed": ("log_level",), "restart_required": ("log_level",)}),
    (
        "metrics enabled",
        {"metrics": {"enabled": True, "port": 9200}},
        {"other_changed": ("metrics",), "restart_required": ("metrics.enabled", "metrics.port")},
    ),
    (
        "store and page turned on",
        {"storage": {"enabled": True, "max_mb": 10}, "http": {"enabled": True, "port": 8181}},
        {
            "other_changed": ("storage", "http"),
            "restart_required": ("storage.enabled", "storage.max_mb", "http.enabled", "http.port"),
        },
    ),
    (
        "snapshots enabled and quality",
        {"snapshots": {"enabled": False, "jpeg_quality": 50}},
        {"other_changed": ("snapshots",), "restart_required": ("snapshots.enabled",)},
    ),
    ("snapshot quality only", {"snapshots": {"jpeg_quality": 50}}, {"other_changed": ("snapshots",)}),
    (
        "outbox with a broker change",
        {"mqtt": {"host": "broker.lan"}, "outbox": {"max_messages": 5}},
        {"mqtt_reconnect": True, "other_changed": ("outbox",)},
    ),
    ("groups", {"groups": ["north"]}, {"other_changed": ("groups",)}),
    (
        "classifiers and datasets are loaded at start",
        {"classifiers": [{"model": "vans.clf", "labels": ["car"]}], "datasets": {"enabled": True}},
        {"other_changed": ("classifiers", "datasets"), "restart_required": ("classifiers", "datasets.enabled")},
    ),
    (
        "a camera state too",
        {"cameras": {"front": {"states": {"door": {"model": "door.clf", "region": [0, 0, 1, 1]}}}}},
        {"cameras_restarted": ("front",), "restart_required": ("cameras.front.states",)},
    ),
    (
        "several at once",
        {
            "cameras": {"front": None, "back": {"loop": True}, "new": {"source": "/dev/video3"}},
            "outbox": {"max_messages": 5},
        },
        {
            "cameras_added": ("new",),
            "cameras_removed": ("front",),
            "cameras_restarted": ("back",),
            "other_changed": ("outbox",),
            "restart_required": ("outbox.max_messages",),
        },
    ),
]


def _config(patch: dict[str, Any]) -> AgentConfig:
    return AgentConfig.model_validate(apply_merge_patch(BASE, patch))


def _expected(overrides: dict[str, Any], old: AgentConfig, new: AgentConfig) -> ReconcilePlan:
    running_old = {n for n, c in old.cameras.items() if c.enabled}
    running_new = {n for n, c in new.cameras.items() if c.enabled}
    restarted = set(overrides.get("cameras_restarted", ()))
    fields: dict[str, Any] = {
        "cameras_added": (),
        "cameras_removed": (),
        "cameras_restarted": (),
        "cameras_unchanged": tuple(sorted((running_old & running_new) - restarted)),
        "model_reload": False,
        "mqtt_reconnect": False,
        "other_changed": (),
    }
    fields.update(overrides)
    return ReconcilePlan(**fields)


@pytest.mark.parametrize(("case", "patch", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_plan(case: str, patch: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Each change to the config maps to exactly the expected plan."""
    old, new = _config({}), _config(patch)
    assert plan_reconcile(old, new) == _expected(overrides, old, new)


def test_noop_only_when_nothing_changed() -> None:
    """is_noop is true for identical configs and false for any change, even an unrelated one."""
    assert plan_reconcile(_config({}), _config({})).is_noop
    assert not plan_reconcile(_config({}), _config({"log_level": "ERROR"})).is_noop
    assert not plan_reconcile(_config({}), _config({"mqtt": {"port": 1884}})).is_noop


def test_reverse_plan_swaps_added_and_removed() -> None:
    """Planning the rollback of a change undoes it: added and removed swap, restarts stay."""
    old = _config({})
    new = _config({"cameras": {"front": None, "back": {"loop": True}, "x": {"source": "/dev/video9"}}})
    forward, back = plan_reconcile(old, new), plan_reconcile(new, old)
    assert (back.cameras_added, back.cameras_removed) == (forward.cameras_removed, forward.cameras_added)
    assert back.cameras_restarted == forward.cameras_restarted == ("back",)
