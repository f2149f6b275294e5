"""What the HTTP threads may read of the running agent: each a callable or a thread-safe object, so
the web package reaches into no other component's internals. Built by agent.daemon.local."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.config.schema import AgentConfig
from agent.types import StatsSnapshot
from agent.web.live import LiveViews


@dataclass(frozen=True, slots=True)
class WebContext:
    config: Callable[[], AgentConfig]  # the config in force
    stats: Callable[[], StatsSnapshot]  # cameras and broker, now
    ready: Callable[[], bool]  # every camera up and the broker connected
    metrics_text: Callable[[], bytes] | None  # Prometheus exposition of the agent's registry
    config_state: Callable[[], dict[str, object]]  # the remote-config state last published
    store_root: Path | None  # None: storage is off
    store_db: Path | None
    live: LiveViews
    counters: Callable[[], dict[str, int]]  # the store's and clips' written / dropped / errors
