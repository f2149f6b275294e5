"""State classification: a camera's fixed region through a trained classifier, reported on change.

`StateClassifierWorker` is a Sink (analytics thread: `accept` queues the due RegionCrops the
processor cut, agent.classify.schedule says when) and its own thread (`run`: classifies). A
changed answer (or the first) whose score reaches `min_score` goes out as a StateChange record
through `output`, the agent's FanOutSink, so MQTT (`<camera>/states/<name>`, retained), the
batch JSON lines and any later sink see it like every other record."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from agent.classify.model import CropClassifier
from agent.classify.queue import LatestByKey
from agent.config.recognition import StateClassifierConfig
from agent.records import Record, RegionCrop, Sink, StateChange

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
StateKey = tuple[str, str]  # (camera, state name)


@dataclass(frozen=True, slots=True)
class LoadedStateClassifier:
    """One `cameras.<camera>.states.<name>` entry and its loaded model."""

    config: StateClassifierConfig
    model: CropClassifier


class StateClassifierWorker(threading.Thread):
    """Classifies region crops; one thread for every camera's states."""

    def __init__(self, states: Mapping[StateKey, LoadedStateClassifier], output: Sink, queue_size: int) -> None:
        super().__init__(name="states", daemon=True)
        self._states = dict(states)
        self._output = output
        self._queue: LatestByKey[StateKey, RegionCrop] = LatestByKey(queue_size)
        self._current: dict[StateKey, str] = {}  # worker thread only
        self.classified = self.changes = self.errors = 0
        self.heartbeat_mono = time.monotonic()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def accept(self, record: Record) -> None:
        if isinstance(record, RegionCrop) and (record.camera, record.state) in self._states:
            self._queue.put((record.camera, record.state), record)

    def stop(self) -> None:
        self._queue.close()

    def run(self) -> None:
        while True:
            self.heartbeat_mono = time.monotonic()
            crop = self._queue.take(IDLE_WAIT_S)
            if crop is None:
                if self._queue.closed:
                    return
                continue
            try:
                self._classify(crop)
            except Exception:
                self.errors += 1
                log.exception("state classifier %s/%s failed", crop.camera, crop.state)

    def _classify(self, crop: RegionCrop) -> None:
        key = (crop.camera, crop.state)
        loaded = self._states[key]
        answer = loaded.model.classify(crop.image)
        self.classified += 1
        if answer.score < loaded.config.min_score or self._current.get(key) == answer.label:
            return
        self._current[key] = answer.label
        self.changes += 1
        change = StateChange(crop.camera, crop.state, answer.label, float(answer.score), crop.ts_wall, crop.clock)
        self._output.accept(change)
