"""The config and the model the agent runs with. Replaced together by the reconciler (config thread)
once an apply has come up; read by the main thread (status line, stats) and by camera builds."""

from __future__ import annotations

from agent.config.schema import AgentConfig
from agent.daemon.detectors import LoadedModel


class InForce:
    """The running config and model; each read sees one whole object, never a half-applied one."""

    def __init__(self, config: AgentConfig, model: LoadedModel) -> None:
        self._config = config
        self._model = model

    @property
    def config(self) -> AgentConfig:
        return self._config

    @property
    def model(self) -> LoadedModel:
        return self._model

    def replace(self, config: AgentConfig, model: LoadedModel) -> None:
        self._config, self._model = config, model
