"""Pydantic models of the local event store (`storage:`), its clips (`storage.clips`) and the HTTP
page and API (`http:`). All off by default. Used by agent.config.schema.AgentConfig; read by
agent.store, agent.clips and agent.web."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from agent.config.base import StrictModel

LOOPBACK_NAMES = ("localhost",)


class ClipConfig(StrictModel):
    enabled: bool = Field(True, description="Record an MP4 (H.264) per event burst while the store is on.")
    pre_roll_s: float = Field(5.0, ge=0.0, le=60.0, description="Seconds of video kept before an event starts.")
    post_roll_s: float = Field(5.0, ge=0.0, le=60.0, description="Seconds recorded after the camera's last event ends.")
    max_clip_s: float = Field(
        300.0, gt=0.0, le=3600.0, description="Longest clip; a busy camera's recording is cut into clips this long."
    )
    max_width_px: int = Field(
        640, ge=64, le=3840, description="Clip frames are downscaled to at most this width (bounds memory and CPU)."
    )
    jpeg_quality: int = Field(
        75, ge=10, le=100, description="JPEG quality of the frames held in the pre-roll buffer (memory vs. detail)."
    )
    queue_size: int = Field(
        32, ge=2, le=1000, description="Frames waiting for the clip thread; more are dropped and counted."
    )


class StorageConfig(StrictModel):
    enabled: bool = Field(False, description="Keep events, anomalies, snapshots and clips in <state_dir>/store.")
    max_mb: float = Field(
        1024.0,
        gt=0.0,
        description="Most MB of snapshot and clip files kept; the oldest events go first, rows and files.",
    )
    retain_days: float = Field(
        7.0, gt=0.0, description="Events older than this many days are deleted with their files."
    )
    prune_interval_s: float = Field(
        60.0, gt=0.0, le=86_400.0, description="Seconds between two retention sweeps of the store."
    )
    queue_size: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="Records waiting for the store's writer thread; more are dropped and counted.",
    )
    clips: ClipConfig = Field(default_factory=ClipConfig, description="Event clips (pre-roll + event + post-roll).")


class HttpConfig(StrictModel):
    enabled: bool = Field(False, description="Serve the web page and the read-only JSON API (needs the [web] extra).")
    host: str = Field(
        "127.0.0.1",
        description="Address to listen on. Any non-loopback address needs `token` (the agent refuses to start).",
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free port and logs it.")
    token: str | None = Field(
        None, min_length=16, description="When set, every request needs `Authorization: Bearer <token>` (>= 16 chars)."
    )
    threads: int = Field(4, ge=1, le=32, description="waitress worker threads (each MJPEG viewer holds one).")
    mjpeg_fps: float = Field(5.0, gt=0.0, le=30.0, description="Most frames per second sent to one MJPEG viewer.")
    max_viewers: int = Field(2, ge=1, le=16, description="Most simultaneous MJPEG viewers; more get 503.")
    max_request_bytes: int = Field(
        16_384, ge=1024, le=1_048_576, description="Largest request (headers and body) accepted."
    )

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        if value in LOOPBACK_NAMES:
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise ValueError(f"host must be an IP address such as 127.0.0.1 or localhost, got {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _token_off_loopback(self) -> HttpConfig:
        if self.enabled and not is_loopback(self.host) and self.token is None:
            raise ValueError(
                f"http.host {self.host} is not loopback: set http.token (>= 16 characters) or listen on 127.0.0.1"
            )
        return self


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
