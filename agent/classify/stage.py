"""Builds the second stage of one agent from its config: the object classifier, state classifier and
dataset capture workers (each its own thread, each a Sink), and the hooks the camera processors need.

Called by the composition roots (agent.daemon.root, agent.batch.run) on the main thread before any
thread starts; a classifier file that cannot be loaded raises RecognitionError there (fail fast)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.catalog.resolve import model_dir_of
from agent.classify.objects import LoadedObjectClassifier, ObjectClassifierWorker
from agent.classify.states import LoadedStateClassifier, StateClassifierWorker
from agent.classify.sub_labels import SubLabelBook
from agent.config.schema import AgentConfig
from agent.dataset.capture import DatasetCaptureWorker
from agent.pipeline.processor import SecondStageHooks
from agent.records import Record, Sink
from agent.storage.health import StorageHealth
from agent.types import Heartbeat, WorkerStats

log = logging.getLogger(__name__)

QUEUE_SIZE = 16  # crops waiting per worker; a newer crop of a waiting event replaces the older one
DEFAULT_DATASET_DIR = "datasets"

Worker = ObjectClassifierWorker | StateClassifierWorker | DatasetCaptureWorker


class LateSink:
    """A Sink whose target is set once, after it is built: the state worker's output is the FanOutSink
    that the worker itself is one sink of."""

    def __init__(self) -> None:
        self._target: Sink | None = None

    def bind(self, target: Sink) -> None:
        self._target = target

    def accept(self, record: Record) -> None:
        if self._target is None:
            raise RuntimeError("LateSink used before bind(): the composition root must bind it to its FanOutSink")
        self._target.accept(record)


@dataclass(frozen=True, slots=True)
class SecondStage:
    """The workers that run (None: not configured) and what the camera processors are given."""

    hooks: SecondStageHooks | None
    objects: ObjectClassifierWorker | None
    states: StateClassifierWorker | None
    datasets: DatasetCaptureWorker | None
    output: LateSink

    @property
    def workers(self) -> list[Worker]:
        return [w for w in (self.objects, self.states, self.datasets) if w is not None]

    def sinks(self) -> dict[str, Sink]:
        return {worker.name: worker for worker in self.workers}

    def bind(self, fan_out: Sink) -> None:
        """Where state changes go: every sink, like the pipeline's own records."""
        self.output.bind(fan_out)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, join_timeout_s: float) -> list[str]:
        """Finish what is queued, then end; the names of workers still alive after the timeout."""
        for worker in self.workers:
            worker.stop()
        alive = []
        for worker in self.workers:
            worker.join(join_timeout_s)
            if worker.is_alive():
                alive.append(worker.name)
        if self.objects is not None:
            o = self.objects
            log.info(
                "classifier: %d crops classified, %d below min_score, %d dropped (queue full), %d errors",
                o.classified,
                o.below_min_score,
                o.dropped,
                o.errors,
            )
        if self.states is not None:
            st = self.states
            log.info(
                "states: %d regions classified, %d changes, %d dropped, %d errors",
                st.classified,
                st.changes,
                st.dropped,
                st.errors,
            )
        if self.datasets is not None:
            d = self.datasets
            log.info(
                "datasets: %d crops saved, %d near-duplicates, %d too small, %d dropped, %d removed by max_mb, "
                "%d not written (disk), %d errors",
                d.saved,
                d.duplicates,
                d.too_small,
                d.dropped,
                d.removed,
                d.write_failed,
                d.errors,
            )
        return alive

    def stats(self) -> dict[str, WorkerStats]:
        """Counts for the stats message, by worker name (none when no second stage is configured)."""
        out = {}
        if self.objects is not None:
            out[self.objects.name] = WorkerStats(self.objects.classified, self.objects.dropped, self.objects.errors)
        if self.states is not None:
            out[self.states.name] = WorkerStats(self.states.classified, self.states.dropped, self.states.errors)
        if self.datasets is not None:
            out[self.datasets.name] = WorkerStats(self.datasets.saved, self.datasets.dropped, self.datasets.errors)
        return out

    def heartbeats(self) -> list[Heartbeat]:
        return [Heartbeat(w.name, w.heartbeat_mono, w.is_alive()) for w in self.workers]


def build_second_stage(config: AgentConfig, storage: StorageHealth | None = None) -> SecondStage:
    """Load every classifier the config names (each worker thread owns its own model runners)."""
    from agent.recognition import load_classifier  # the backbone runtime loads only when a classifier is set
    from agent.recognition.backbone import Backbone, resolve_backbone

    model_dir = model_dir_of(config)
    book = SubLabelBook()
    output = LateSink()
    objects = states = datasets = None
    if config.classifiers:
        loaded = [LoadedObjectClassifier(c, load_classifier(c.model, model_dir)) for c in config.classifiers]
        objects = ObjectClassifierWorker(loaded, book, QUEUE_SIZE)
    state_models = {
        (camera, name): LoadedStateClassifier(s, load_classifier(s.model, model_dir))
        for camera, cam in config.cameras.items()
        if cam.enabled
        for name, s in cam.states.items()
    }
    if state_models:
        states = StateClassifierWorker(state_models, output, QUEUE_SIZE)
    capture = config.datasets
    if capture.enabled:
        root = capture.dir or config.state_dir / DEFAULT_DATASET_DIR
        datasets = DatasetCaptureWorker(capture, root, Backbone(resolve_backbone(None, model_dir)), storage)
    crop_labels = {label for c in config.classifiers for label in c.labels}
    frame_labels: set[str] = set()
    if capture.enabled:
        crop_labels.update(capture.labels)
        frame_labels.update(capture.labels if capture.full_frames else ())
    hooks = SecondStageHooks(book, frozenset(crop_labels), frozenset(frame_labels)) if crop_labels else None
    return SecondStage(hooks, objects, states, datasets, output)
