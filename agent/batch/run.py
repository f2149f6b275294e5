"""Analyses one video file with the daemon's own parts: a camera unit (capture, motion gate, detector,
tracker, events, anomalies), the pipeline threads, and the batch sinks (JSON lines, the tally, the
snapshot worker, and the MQTT sink with --publish). Runs in the calling process (one per file with
--jobs) and returns when every frame of the file has been through analytics."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from agent.batch.jsonlines import JsonLinesSink
from agent.batch.progress import FileProgress, Position
from agent.batch.tally import Tally, TallySink
from agent.catalog.resolve import ModelDigests
from agent.classify.stage import build_second_stage
from agent.config.schema import AgentConfig
from agent.daemon.cameras import CameraDeps, build_camera
from agent.daemon.detectors import load_detectors
from agent.daemon.publisher_swap import make_publisher
from agent.errors import AgentError
from agent.pipeline.fanout import FanOutSink
from agent.pipeline.processor import Snapshots
from agent.pipeline.wake import WakeSignal
from agent.pipeline.workers import PipelineWorkers
from agent.publish.client import MqttPublisher
from agent.publish.messages import OutboundMessage
from agent.publish.sink import MqttSink
from agent.publish.topics import Topics
from agent.records import CameraStatus, Sink
from agent.snapshots.store import RetentionLimits, SnapshotStore
from agent.snapshots.worker import SnapshotWorker
from agent.storage.health import StorageHealth
from agent.toggles import CameraToggles

log = logging.getLogger(__name__)

PROGRESS_S = 0.25  # progress bar refresh
DRAIN_POLL_S = 0.005
JOIN_TIMEOUT_S = 10.0
PUBLISHER_STOP_TIMEOUT_S = 10.0


class UnreadableVideo(AgentError):
    """The file could not be opened or holds no frame."""


@dataclass(frozen=True, slots=True)
class FileJob:
    """One file to analyse (picklable: --jobs hands it to another process)."""

    video: Path
    camera: str
    config: AgentConfig  # from agent.batch.config.batch_config
    out_dir: Path
    publish: bool
    detections: bool
    show_progress: bool


@dataclass(frozen=True, slots=True)
class FileResult:
    video: Path
    out_dir: Path
    tally: Tally | None
    position: Position | None
    error: str | None = None  # the file could not be analysed: why


@dataclass(frozen=True, slots=True)
class VideoInfo:
    frames: int  # 0 when the container does not say
    fps: float


def probe(video: Path) -> VideoInfo:
    """Open the file once and decode its first frame, so an unreadable file fails before any thread starts."""
    if not video.is_file():
        raise UnreadableVideo(f"{video}: no such file")
    capture = cv2.VideoCapture(str(video))
    try:
        ok, _ = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            raise UnreadableVideo(f"{video}: OpenCV cannot decode a frame of it (not a video, or a codec it lacks)")
        return VideoInfo(max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))), float(capture.get(cv2.CAP_PROP_FPS) or 0))
    finally:
        capture.release()


def analyze_file(job: FileJob) -> FileResult:
    """Analyse one file; an unreadable file is a result with `error`, not an exception (the others go on)."""
    try:
        info = probe(job.video)
        return _run(job, info)
    except AgentError as exc:
        log.error("%s", exc)
        return FileResult(job.video, job.out_dir, None, None, str(exc))


def _run(job: FileJob, info: VideoInfo) -> FileResult:
    cfg = job.config
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    storage = StorageHealth(cfg.state_dir)
    publisher = make_publisher(cfg, storage) if job.publish else None
    topics = publisher.topics if publisher is not None else Topics(cfg.mqtt.topic_prefix, cfg.device_id)
    snapshots = _snapshot_worker(cfg, topics, publisher, storage)
    jsonl, tally = JsonLinesSink(job.out_dir, topics, job.detections), TallySink()
    second_stage = build_second_stage(cfg, storage)
    sinks: dict[str, Sink] = {"jsonl": jsonl, "tally": tally, "snapshots": snapshots, **second_stage.sinks()}
    if publisher is not None:
        sinks["mqtt"] = MqttSink(publisher)
    fan_out = FanOutSink(sinks)
    second_stage.bind(fan_out)
    frame_ready = WakeSignal()
    detectors = load_detectors(cfg, ModelDigests()).detectors
    pipeline = PipelineWorkers(detectors, fan_out, frame_ready)
    status = _status_listener(fan_out)
    deps = CameraDeps(cfg, frame_ready, Snapshots(snapshots, cfg.snapshots), status, storage, second_stage.hooks)
    unit = build_camera(job.camera, cfg.cameras[job.camera], deps, CameraToggles())
    pipeline.set_lane(unit.lane())
    for worker in (snapshots, publisher):
        if worker is not None:
            worker.start()
    second_stage.start()
    pipeline.start()
    started = time.monotonic()
    unit.capture.start()
    progress = FileProgress(sys.stderr, job.video.name, sys.stderr.isatty()) if job.show_progress else None
    try:
        while not unit.capture.ended.wait(PROGRESS_S):
            if progress is not None:
                progress.show(_position(unit.capture.stats().frames, info, started))
        # The last frames are still in the detector and analytics threads: a short poll, so the wall
        # time (and x realtime) of a file is not rounded up to the progress bar's refresh.
        while not pipeline.idle_for(job.camera):
            time.sleep(DRAIN_POLL_S)
    finally:
        unit.capture.stop()
        unit.capture.join(JOIN_TIMEOUT_S)
        if not pipeline.stop(time.time(), JOIN_TIMEOUT_S):
            log.error("%s: a pipeline thread did not stop; open events are not ended", job.video)
        if stuck := second_stage.stop(JOIN_TIMEOUT_S):
            log.error("%s: second-stage workers %s did not stop", job.video, ", ".join(stuck))
        snapshots.stop()
        snapshots.join(JOIN_TIMEOUT_S)
        if publisher is not None:
            publisher.stop(timeout_s=PUBLISHER_STOP_TIMEOUT_S)
        jsonl.close()
    position = _position(unit.capture.stats().frames, info, started)
    if progress is not None:
        progress.done(position)
    return FileResult(job.video, job.out_dir, tally.summary(), position)


def _position(frames: int, info: VideoInfo, started_mono: float) -> Position:
    media_s = frames / info.fps if info.fps > 0 else 0.0
    return Position(frames, info.frames, media_s, time.monotonic() - started_mono)


def _snapshot_worker(
    cfg: AgentConfig, topics: Topics, publisher: MqttPublisher | None, storage: StorageHealth
) -> SnapshotWorker:
    save_dir = cfg.snapshots.save_dir or cfg.state_dir / "snapshots"
    store = SnapshotStore(save_dir, RetentionLimits.from_config(cfg.snapshots))
    send = publisher.send if publisher is not None else _kept_on_disk_only
    return SnapshotWorker(topics, cfg.snapshots, send, store, storage=storage)


def _kept_on_disk_only(message: OutboundMessage) -> None:
    """Without --publish a snapshot is only saved (by the worker's store); there is no broker to send it to."""


def _status_listener(sink: Sink) -> Callable[[str, bool], None]:
    def listener(camera: str, online: bool) -> None:
        sink.accept(CameraStatus(camera, online))

    return listener
