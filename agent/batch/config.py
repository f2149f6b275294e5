"""The config a batch run of one video uses: the operator's agent config, one camera's settings
(zones, lines, objects, anomalies) applied to the file, read as fast as the CPU allows.

Pure: built on the main thread of `edge-agent analyze` before any file is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.config.schema import AgentConfig
from agent.errors import ConfigError

ANALYZE_DEVICE_SUFFIX = "-analyze"  # --publish never speaks for the live agent (its status and LWT)


def choose_camera(config: AgentConfig, requested: str | None, source: str) -> str:
    """The camera whose settings the videos are analysed with: `requested`, or the config's only camera."""
    names = sorted(config.cameras)
    if requested is not None:
        if requested not in config.cameras:
            raise ConfigError(
                f"{source}: --camera-config {requested!r}: no such camera (the config has {', '.join(names)})"
            )
        return requested
    if len(names) == 1:
        return names[0]
    raise ConfigError(
        f"{source}: the config has {len(names)} cameras ({', '.join(names)}); choose one with --camera-config"
    )


def batch_config(config: AgentConfig, camera: str, video: Path, out_dir: Path) -> AgentConfig:
    """`config` with only `camera`, reading `video` once (`realtime: false`, no loop), its durable state
    under `out_dir/state` (never the live agent's baselines or outbox) and its snapshots saved in
    `out_dir/snapshots`; remote config, metrics and discovery off; published, if at all, as
    `<device_id>-analyze`."""
    doc: dict[str, Any] = config.model_dump(mode="python", exclude_unset=False)
    cam = dict(doc["cameras"][camera])
    cam.update(source=str(video), realtime=False, loop=False, enabled=True)
    doc["cameras"] = {camera: cam}
    doc["device_id"] = f"{config.device_id}{ANALYZE_DEVICE_SUFFIX}"
    doc["state_dir"] = out_dir / "state"
    snapshots = dict(doc["snapshots"])
    snapshots.update(enabled=True, save=True, save_dir=out_dir / "snapshots")
    doc["snapshots"] = snapshots
    doc["metrics"] = {**doc["metrics"], "enabled": False}
    doc["discovery"] = {**doc["discovery"], "enabled": False}
    doc["remote_config"] = {**doc["remote_config"], "enabled": False}
    doc["groups"] = []
    return AgentConfig.model_validate(doc)
