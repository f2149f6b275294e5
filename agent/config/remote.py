"""Settings of remote configuration over MQTT and of config-file reloads."""

from pathlib import Path

from pydantic import Field

from agent.config.base import StrictModel


class RemoteConfigSettings(StrictModel):
    enabled: bool = Field(True, description="Accept config/set, config/patch and config/get over MQTT.")
    max_bytes: int = Field(
        256 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest accepted remote document, in bytes."
    )
    apply_timeout_s: float = Field(
        15.0,
        gt=0,
        le=300,
        description="A new model or broker connection must come up within this, or it is rolled back.",
    )
    max_pending_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Bytes of set/patch payloads that may wait to be applied; a request beyond it is answered "
        "rejected (never dropped). Waiting requests are coalesced: the last one wins.",
    )
    max_cameras: int = Field(
        16,
        ge=1,
        le=1024,
        description="Most enabled cameras a remote config may run; a remote config may lower this but not raise "
        "it (raise it by editing the file on the device).",
    )
    watch_file: bool = Field(True, description="Reload when the config file changes on disk (SIGHUP always reloads).")
    watch_interval_s: float = Field(2.0, gt=0, description="How often the config file's modification time is checked.")
    allowed_dirs: list[Path] = Field(
        default_factory=list,
        description="Extra directories a remote config may name (camera files, models, labels); the config file's "
        "directory, state_dir and model_dir are always allowed. Changing this list needs an edit on disk.",
    )
