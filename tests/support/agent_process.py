"""Runs the real agent (`python -m agent run`) as a subprocess against a test broker.

Tests build a config dict, `write_config` turns it into YAML, and `AgentProcess`
starts, signals and waits for the process, keeping its stderr for assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.support import assets
from tests.support.broker import MosquittoBroker


def base_config(
    tmp_path: Path, broker: MosquittoBroker, prefix: str, cameras: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A config for the SSD model from the shared asset mirror and the given cameras."""
    model = assets.model(assets.SSD_MODEL)
    config: dict[str, Any] = {
        "device_id": "dev1",
        "state_dir": str(tmp_path / "state"),
        "model_dir": str(model.parent),
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "topic_prefix": prefix,
            "stats_interval_s": 1.0,
            "reconnect_initial_s": 0.2,
            "reconnect_max_s": 1.0,
        },
        "model": {"path": "ssd_mobilenet_v1_coco_uint8_300", "min_score": 0.5},
        "cameras": cameras,
    }
    config.update(extra)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class AgentProcess:
    """One `edge-agent run` subprocess."""

    def __init__(self, config_path: Path, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = config_path.with_suffix(".log")
        self._log = self.log_path.open("wb")
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self._log.flush()

    def terminate(self, timeout_s: float = 10.0) -> tuple[int, float]:
        """SIGTERM, then wait; returns (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait(timeout_s)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    @property
    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
