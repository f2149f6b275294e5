"""Loads the configured model into one detector per interpreter. Called by the composition root at
start (main thread) and by the reconciler after a model change (config thread); a model that does
not load raises AgentError and the running one stays in force."""

from __future__ import annotations

from dataclasses import dataclass

from agent.catalog.resolve import ModelDigests, resolve_model
from agent.config.schema import AgentConfig, Delegate
from agent.detect import ModelDetector


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """The detectors of one loaded model and the model file's name (shown in status and stats)."""

    detectors: tuple[ModelDetector, ...]
    name: str

    @property
    def runtime_name(self) -> str:
        return self.detectors[0].runtime_name


def load_detectors(config: AgentConfig, digests: ModelDigests) -> LoadedModel:
    """One interpreter per model.interpreters; several Edge TPUs are taken one each (":0", ":1", ...)."""
    resolved = resolve_model(config, digests=digests)
    count = config.model.interpreters
    edgetpu = config.model.delegate is Delegate.EDGETPU and count > 1
    detectors = tuple(
        ModelDetector(
            resolved.model_path,
            resolved.labels_path,
            config.model,
            f":{i}" if edgetpu else None,
            resolved.catalog_entry,
        )
        for i in range(count)
    )
    return LoadedModel(detectors, resolved.model_path.name)
