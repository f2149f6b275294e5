"""Field dataset capture: the best crop of each ended event (and optionally its whole frame with YOLO
labels) saved under the dataset directory, near-duplicates skipped, the directory kept under max_mb.

`DatasetCaptureWorker` is a Sink (analytics thread: `accept` keeps each open event's latest best
crop and queues it at the event's end) and its own thread (`run`: embedding, dedupe, JPEG, files),
so nothing here slows the pipeline; a full queue drops the capture and counts it."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from agent.classify.queue import LatestByKey
from agent.config.recognition import DatasetCaptureConfig
from agent.dataset.layout import CLASSES_FILE, FRAMES, LABEL_SUFFIX, crop_path, enforce_size, frame_path
from agent.records import BestCrop, Record
from agent.storage.atomic_file import write_atomic
from agent.storage.health import StorageHealth, is_out_of_space
from agent.types import Event, EventKind, Image, Track

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
MAX_OPEN_EVENTS = 4096  # best crops held for open events, bounded (oldest forgotten)
SIZE_CHECK_EVERY = 20  # captures between two scans of the directory for its size bound
JPEG_QUALITY = 92  # training images: little compression loss


class Embedder(Protocol):
    """An L2-normalised feature vector of a crop (agent.recognition.backbone.Backbone)."""

    def features(self, image_bgr: Image) -> npt.NDArray[np.float32]: ...


def yolo_lines(tracks: tuple[Track, ...], frame_size: tuple[int, int], classes: tuple[str, ...]) -> list[str]:
    """`class cx cy w h` (0..1) per track of a dataset label, YOLO's txt format."""
    width, height = frame_size
    lines = []
    for track in tracks:
        if track.label not in classes:
            continue
        box = track.box.clipped(width, height)
        cx, cy = box.center
        lines.append(
            f"{classes.index(track.label)} {cx / width:.6f} {cy / height:.6f} {box.width / width:.6f} {box.height / height:.6f}"
        )
    return lines


class DatasetCaptureWorker(threading.Thread):
    """Saves ended events' best crops for the configured labels and cameras."""

    def __init__(
        self, config: DatasetCaptureConfig, root: Path, embedder: Embedder, storage: StorageHealth | None = None
    ) -> None:
        super().__init__(name="datasets", daemon=True)
        self._config = config
        self._root = root
        self._embedder = embedder
        self._storage = storage
        self._best: OrderedDict[str, BestCrop] = OrderedDict()  # analytics thread only
        self._queue: LatestByKey[str, BestCrop] = LatestByKey(config.queue_size)
        self._recent: dict[tuple[str, str], deque[npt.NDArray[np.float32]]] = {}  # worker thread only
        self.saved = self.duplicates = self.too_small = self.write_failed = self.errors = self.removed = 0
        self.heartbeat_mono = time.monotonic()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    def accept(self, record: Record) -> None:
        if isinstance(record, BestCrop):
            if self._config.applies_to(record.camera, record.label):
                self._best[record.event_id] = record
                self._best.move_to_end(record.event_id)
                while len(self._best) > MAX_OPEN_EVENTS:
                    self._best.popitem(last=False)
        elif isinstance(record, Event) and record.kind is EventKind.END:
            crop = self._best.pop(record.event_id, None)
            if crop is not None:
                self._queue.put(record.event_id, crop)

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
                self._capture(crop)
            except Exception:
                self.errors += 1
                log.exception("dataset capture of %s/%s event %s failed", crop.camera, crop.label, crop.event_id)

    def _capture(self, crop: BestCrop) -> None:
        height, width = crop.image.shape[:2]
        if min(height, width) < self._config.min_crop_px:
            self.too_small += 1
            return
        if self._is_duplicate(crop):
            self.duplicates += 1
            return
        try:
            self._write(crop)
        except OSError as exc:
            if self._storage is None or not is_out_of_space(exc):
                raise
            self.write_failed += 1  # a full disk: the capture is lost, the agent goes on
            self._storage.write_failed(self._root, exc, "the dataset capture was skipped")
            return
        self.saved += 1
        if self.saved % SIZE_CHECK_EVERY == 0:
            self.removed += enforce_size(self._root, self._config.max_mb)

    def _is_duplicate(self, crop: BestCrop) -> bool:
        if self._config.dedupe_cosine >= 1.0:
            return False
        vector = self._embedder.features(np.ascontiguousarray(crop.image))
        recent = self._recent.setdefault((crop.camera, crop.label), deque(maxlen=self._config.dedupe_memory))
        if recent and float(np.max(np.stack(recent) @ vector)) >= self._config.dedupe_cosine:
            return True
        recent.append(vector)
        return False

    def _write(self, crop: BestCrop) -> None:
        write_atomic(crop_path(self._root, crop.camera, crop.label, crop.event_id, crop.ts_wall), _jpeg(crop.image))
        if crop.frame is None:
            return
        image_path = frame_path(self._root, crop.camera, crop.event_id, crop.ts_wall)
        write_atomic(image_path, _jpeg(crop.frame))
        lines = yolo_lines(crop.frame_tracks, crop.frame_size, self._config.labels)
        write_atomic(image_path.with_suffix(LABEL_SUFFIX), "".join(f"{line}\n" for line in lines).encode())
        classes = self._root / FRAMES / CLASSES_FILE
        if not classes.exists():
            write_atomic(classes, "".join(f"{label}\n" for label in self._config.labels).encode())


def _jpeg(image: Image) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"OpenCV could not JPEG-encode a {image.shape} dataset image")
    return bytes(buffer.tobytes())
