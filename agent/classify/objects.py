"""Object classification: an event's best crop through a trained classifier, giving the event a sub_label.

`ObjectClassifierWorker` is a Sink (analytics thread: `accept` only queues) and its own thread
(`run`: classifies). The answer goes into the SubLabelBook, from which the analytics thread
stamps the event's next messages (agent.pipeline.processor). Rate-limited per event: a better
crop within `min_interval_s` of the last classified one waits (the latest kept) until an event
message at least that much later; time is the records' own (media time for a file)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from agent.classify.model import CropClassifier
from agent.classify.queue import LatestByKey
from agent.classify.sub_labels import SubLabel, SubLabelBook
from agent.config.recognition import ObjectClassifierConfig
from agent.records import BestCrop, Record
from agent.types import Event, EventKind

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0  # the worker wakes at least this often to refresh its heartbeat
MAX_TRACKED_EVENTS = 4096  # rate-limit state, bounded like the SubLabelBook


@dataclass(frozen=True, slots=True)
class LoadedObjectClassifier:
    """One `classifiers:` entry and its loaded model."""

    config: ObjectClassifierConfig
    model: CropClassifier


@dataclass(slots=True)
class _EventRate:
    last_ts: float
    deferred: BestCrop | None = None


class ObjectClassifierWorker(threading.Thread):
    """Classifies best crops of the labels and cameras its classifiers cover; one thread for all of them
    (the backbone invoke is the cost, and one interpreter thread keeps it off the detector's core)."""

    def __init__(self, classifiers: Sequence[LoadedObjectClassifier], book: SubLabelBook, queue_size: int) -> None:
        super().__init__(name="classifier", daemon=True)
        self._classifiers = tuple(classifiers)
        self._book = book
        self._queue: LatestByKey[str, BestCrop] = LatestByKey(queue_size)
        self._rates: OrderedDict[str, _EventRate] = OrderedDict()  # analytics thread only
        self.classified = self.below_min_score = self.errors = 0
        self.heartbeat_mono = time.monotonic()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def accept(self, record: Record) -> None:
        """As a sink (analytics thread): queue due crops; event messages release deferred ones."""
        if isinstance(record, BestCrop):
            if any(c.config.applies_to(record.camera, record.label) for c in self._classifiers):
                self._offer(record)
        elif isinstance(record, Event):
            self._on_event(record)

    def _offer(self, crop: BestCrop) -> None:
        rate = self._rates.get(crop.event_id)
        interval_s = min(c.config.min_interval_s for c in self._covering(crop))
        if rate is not None and crop.ts_wall - rate.last_ts < interval_s:
            rate.deferred = crop
            return
        self._queue_crop(crop, crop.ts_wall)

    def _queue_crop(self, crop: BestCrop, ts: float) -> None:
        """Queue for classification; `ts` (the record time it was released at) starts the next interval."""
        self._rates[crop.event_id] = _EventRate(ts)
        self._rates.move_to_end(crop.event_id)
        while len(self._rates) > MAX_TRACKED_EVENTS:
            self._rates.popitem(last=False)
        self._queue.put(crop.event_id, crop)

    def _on_event(self, event: Event) -> None:
        rate = self._rates.get(event.event_id)
        if rate is None:
            return
        if event.kind is EventKind.END:
            del self._rates[event.event_id]
            return
        deferred = rate.deferred
        if deferred is not None and event.ts_wall - rate.last_ts >= min(
            c.config.min_interval_s for c in self._covering(deferred)
        ):
            self._queue_crop(deferred, event.ts_wall)

    def _covering(self, crop: BestCrop) -> list[LoadedObjectClassifier]:
        return [c for c in self._classifiers if c.config.applies_to(crop.camera, crop.label)]

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
                # One bad crop or model call must not stop later classifications; counted and logged.
                self.errors += 1
                log.exception("classifier: crop of %s/%s event %s failed", crop.camera, crop.label, crop.event_id)

    def _classify(self, crop: BestCrop) -> None:
        best: SubLabel | None = None
        for classifier in self._covering(crop):
            answer = classifier.model.classify(crop.image)
            self.classified += 1
            if answer.score < classifier.config.min_score:
                self.below_min_score += 1
                continue
            if best is None or answer.score > best.score:
                best = SubLabel(answer.label, float(answer.score))
        if best is not None and self._book.give(crop.event_id, best):
            log.debug("event %s of %s: sub_label %s (%.2f)", crop.event_id, crop.camera, best.label, best.score)
