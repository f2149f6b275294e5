"""Builds everything one camera needs: ring, capture thread, detection stage, anomaly stage and
processor, all reading the camera's runtime toggles. Called by agent.daemon.camera_set only
(main thread at start, config thread on an apply)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.capture import CaptureWorker, FrameRing
from agent.capture.source import reads_a_file
from agent.catalog.resolve import resolve_reid_model
from agent.config.schema import AgentConfig, CameraConfig
from agent.core.anomaly.stream import StreamStatus
from agent.pipeline.anomaly_stage import AnomalyStage
from agent.pipeline.counters import DetectCounters
from agent.pipeline.detection_stage import DetectionStage
from agent.pipeline.lanes import CameraLane
from agent.pipeline.processor import CameraProcessor, SecondStageHooks, Snapshots
from agent.pipeline.wake import WakeSignal
from agent.reid import CropEmbedder, open_embedder
from agent.storage.health import StorageHealth
from agent.toggles import CameraToggles

FROZEN_RECENT_S = 60.0  # a frozen-stream reconnect within this window reports the stream as frozen


@dataclass
class CameraUnit:
    """One running camera."""

    name: str
    config: CameraConfig
    ring: FrameRing
    capture: CaptureWorker
    detection: DetectionStage
    processor: CameraProcessor
    counters: DetectCounters
    toggles: CameraToggles

    def lane(self) -> CameraLane:
        """How the pipeline's threads see this camera. A video file's capture already passes only the
        frames detect_fps admits per media second, so the detector takes each one as it comes."""
        interval_s = 0.0 if reads_a_file(self.config) else 1.0 / self.config.detect_fps
        return CameraLane(self.name, self.ring, self.detection, self.processor, interval_s, self.counters)

    def replace_stages(self, deps: CameraDeps) -> None:
        """A fresh detection stage and processor (a new model, topics or snapshot settings) while the
        capture keeps running, so frames continue without a gap; hand `lane()` to the pipeline after."""
        self.detection = build_detection(self.config, deps, self.toggles)
        self.processor, self.counters = build_processor(
            self.name, self.config, deps, self.capture, self.detection, self.toggles
        )


@dataclass(frozen=True, slots=True)
class CameraDeps:
    """What every camera shares: the agent config, the snapshot index, the status listener."""

    agent: AgentConfig
    frame_ready: WakeSignal
    snapshots: Snapshots | None
    status_listener: Callable[[str, bool], None]
    storage: StorageHealth | None = None  # counts failed writes under state_dir (anomaly baselines)
    second_stage: SecondStageHooks | None = None  # best crops and sub_labels for agent.classify / agent.dataset


def build_camera(name: str, cfg: CameraConfig, deps: CameraDeps, toggles: CameraToggles) -> CameraUnit:
    """Create (but do not start) a camera's ring, capture worker and processor."""
    ring = FrameRing(name, cfg.ring_slots, notify=deps.frame_ready)
    capture = CaptureWorker(name, cfg, ring, status_listener=deps.status_listener)
    detection = build_detection(cfg, deps, toggles)
    processor, counters = build_processor(name, cfg, deps, capture, detection, toggles)
    return CameraUnit(name, cfg, ring, capture, detection, processor, counters, toggles)


def build_detection(cfg: CameraConfig, deps: CameraDeps, toggles: CameraToggles) -> DetectionStage:
    """A camera's motion gate and region planner (fresh motion background)."""
    return DetectionStage(cfg.motion, cfg.regions, deps.agent.model.nms_iou, toggles)


def build_processor(
    name: str,
    cfg: CameraConfig,
    deps: CameraDeps,
    capture: CaptureWorker,
    detection: DetectionStage,
    toggles: CameraToggles,
) -> tuple[CameraProcessor, DetectCounters]:
    """A fresh processor for a camera whose capture keeps running (e.g. after a model reload);
    it reports the motion state of `detection`."""
    counters = DetectCounters()
    anomalies = AnomalyStage(
        name, cfg.anomalies, anomaly_state_path(deps.agent.state_dir, name), stream_status_of(capture), deps.storage
    )
    processor = CameraProcessor(
        name,
        cfg,
        deps.agent.model.min_score,
        counters,
        anomalies=anomalies,
        snapshots=deps.snapshots,
        toggles=toggles,
        motion=detection.motion_active,
        second_stage=deps.second_stage,
        embedder=build_embedder(deps.agent, cfg),
    )
    return processor, counters


def build_embedder(agent_cfg: AgentConfig, cfg: CameraConfig) -> CropEmbedder | None:
    """The camera's re-id model when `tracker.reid` is set (one per camera: only the analytics thread runs it)."""
    reid = cfg.tracker.reid
    if reid is None:
        return None
    return open_embedder(resolve_reid_model(agent_cfg, reid.model), reid.threads)


def anomaly_state_path(state_dir: Path, camera: str) -> Path:
    return state_dir / "anomaly" / f"{camera}.json"


def stream_status_of(capture: CaptureWorker) -> Callable[[], StreamStatus]:
    """A reader of the capture worker's health for the stream anomaly detector."""
    frozen_seen = [0, 0.0]  # frozen count last seen, monotonic time it last grew

    def status() -> StreamStatus:
        stats = capture.stats()
        if stats.frozen > frozen_seen[0]:
            frozen_seen[0], frozen_seen[1] = stats.frozen, stats.heartbeat_mono
        frozen = frozen_seen[1] > 0.0 and stats.heartbeat_mono - frozen_seen[1] < FROZEN_RECENT_S
        online = stats.online or stats.ended
        return StreamStatus(
            online=online, frozen=frozen, fps=stats.fps, nominal_fps=0.0 if stats.ended else stats.nominal_fps
        )

    return status
