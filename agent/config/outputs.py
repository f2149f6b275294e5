"""Pydantic models of the agent's optional outputs: event snapshots and Home Assistant discovery.

Every field has a default, so both sections may be left out of the YAML file.
Used by agent.config.schema.AgentConfig; read by agent.snapshots.worker, agent.snapshots.store
and agent.publish.discovery."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from agent.config.base import StrictModel


class SnapshotConfig(StrictModel):
    enabled: bool = Field(True, description="Publish a JPEG of each event's best frame on <camera>/<label>/snapshot.")
    crop: bool = Field(False, description="Send the object's crop (plus crop_margin_frac) instead of the whole frame.")
    crop_margin_frac: float = Field(
        0.25,
        ge=0.0,
        le=2.0,
        description="Margin added on each side of a cropped box, as a fraction of its width/height.",
    )
    draw_box: bool = Field(True, description="Draw the object's box and label on the snapshot.")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality 10-100 (higher: larger files).")
    max_width_px: int = Field(
        640, ge=32, le=8192, description="Snapshots are downscaled to at most this width in pixels."
    )
    max_height_px: int = Field(
        480, ge=32, le=8192, description="Snapshots are downscaled to at most this height in pixels."
    )
    queue_size: int = Field(
        16, ge=1, le=1000, description="Most events waiting for encoding; further events' jobs are dropped and counted."
    )
    save: bool = Field(False, description="Also save <save_dir>/<camera>/<YYYY-MM-DD>/<event_id>.jpg.")
    save_dir: Path | None = Field(None, description="Directory for saved snapshots; default <state_dir>/snapshots.")
    retain_max_mb: float = Field(
        500.0, gt=0.0, description="Saved snapshots are deleted, oldest first, while their total exceeds this many MB."
    )
    retain_max_age_days: float = Field(
        7.0, gt=0.0, description="Saved snapshots older than this many days are deleted."
    )
    retention_interval_s: float = Field(
        60.0, gt=0.0, le=86_400.0, description="Seconds between two retention sweeps of the snapshot directory."
    )


DEFAULT_DISCOVERY_LABELS = ("person", "car")


class DiscoveryConfig(StrictModel):
    enabled: bool = Field(False, description="Publish Home Assistant MQTT discovery configs (retained).")
    discovery_prefix: str = Field(
        "homeassistant", pattern=r"^[^#+\s]+$", description="Home Assistant's discovery prefix (its MQTT setting)."
    )
    device_name: str | None = Field(
        None, min_length=1, description="Name of the agent's device in Home Assistant; default the device_id."
    )
    labels: tuple[str, ...] = Field(
        DEFAULT_DISCOVERY_LABELS, description="Labels given entities on cameras whose `objects` allow-list is empty."
    )
    qos: int = Field(1, ge=0, le=1, description="MQTT QoS of discovery config messages.")
    snapshots: bool = Field(True, description="Add an image entity per camera and label showing the event snapshot.")

    @model_validator(mode="after")
    def _labels_not_blank(self) -> DiscoveryConfig:
        if any(not label.strip() for label in self.labels):
            raise ValueError("labels must not contain empty strings")
        return self
