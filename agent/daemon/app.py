"""Process entry for `edge-agent run`: signals, then the supervisor until it returns.

Runs on the main thread. SIGTERM and SIGINT request an orderly stop; SIGHUP reloads the config file."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType

from agent.capture.native_logs import quiet_native_logs
from agent.config.schema import AgentConfig
from agent.daemon.supervisor import Supervisor

log = logging.getLogger(__name__)


def run_agent(config: AgentConfig, config_path: Path) -> int:
    quiet_native_logs()  # before any camera opens: FFmpeg reads its level then
    supervisor = Supervisor(config, config_path)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        supervisor.stop_requested.set()

    def request_reload(_signum: int, _frame: FrameType | None) -> None:
        supervisor.reload_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, request_reload)
    log.info("edge-agent starting: device %s, config %s", config.device_id, config_path)
    return supervisor.run()
