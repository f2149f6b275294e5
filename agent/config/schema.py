"""Pydantic v2 models of the agent's YAML configuration.

Every model forbids unknown keys and is frozen: a config object never changes;
a reload builds a new one. Units are in field names. Used by the loader only;
the rest of the agent reads the resulting immutable objects."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from agent.config.analytics import EventsConfig, LabelFilter, LineConfig, Polygon, TrackerConfig, ZoneConfig
from agent.config.anomaly import AnomalyConfig
from agent.config.base import StrictModel
from agent.config.metrics import MetricsConfig
from agent.config.outputs import DiscoveryConfig, SnapshotConfig
from agent.config.perf import DetectResolution, MotionConfig, RegionsConfig
from agent.config.recognition import DatasetCaptureConfig, ObjectClassifierConfig, StateClassifierConfig
from agent.config.remote import RemoteConfigSettings
from agent.config.sources import classify_source
from agent.config.web import HttpConfig, StorageConfig

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Point = tuple[float, float]


class TlsConfig(StrictModel):
    enabled: bool = Field(False, description="Connect with TLS (usually port 8883).")
    ca_file: Path | None = Field(
        None, description="PEM CA bundle that signed the broker's certificate; None uses the system store."
    )
    cert_file: Path | None = Field(None, description="PEM client certificate for mutual TLS.")
    key_file: Path | None = Field(None, description="PEM private key of the client certificate.")
    verify_hostname: bool = Field(
        True, description="Check that the broker certificate names the host. Only disable for testing."
    )

    @model_validator(mode="after")
    def _cert_needs_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class MqttConfig(StrictModel):
    host: str = Field("127.0.0.1", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    topic_prefix: str = Field(
        "edge-agent", pattern=r"^[^#+\s]+$", description="First topic level of everything the agent publishes."
    )
    client_id: str | None = Field(None, description="MQTT client id; default edge-agent-<device_id>.")
    username: str | None = Field(None, description="Broker user name.")
    password: str | None = Field(None, description="Broker password (prefer password_file or password_credential).")
    password_file: Path | None = Field(None, description="File whose first line is the broker password.")
    password_credential: str | None = Field(
        None, description="Name of a systemd credential ($CREDENTIALS_DIRECTORY/<name>) holding the password."
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keepalive interval in seconds.")
    qos: int = Field(
        1, ge=0, le=1, description="QoS of must-deliver messages (events, anomalies). Detections are always QoS 0."
    )
    reconnect_initial_s: float = Field(1.0, gt=0, description="First reconnect delay; doubles per failure with jitter.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest reconnect delay.")
    stats_interval_s: float = Field(30.0, gt=0, description="How often the stats message is published.")
    connect_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Seconds to wait for the TCP connect and TLS handshake of one attempt."
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttConfig:
        given = [n for n in ("password", "password_file", "password_credential") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of password, password_file, password_credential (got {', '.join(given)})"
            )
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class OutboxConfig(StrictModel):
    max_messages: int = Field(
        100_000, ge=1, description="Most undelivered durable messages kept on disk; beyond it the oldest are evicted."
    )
    max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Most payload bytes kept on disk; beyond it the oldest are evicted."
    )
    max_age_s: float = Field(
        7 * 24 * 3600.0, gt=0, description="Undelivered durable messages older than this are evicted (and counted)."
    )
    inflight_window: int = Field(
        100, ge=1, le=10_000, description="Most durable messages handed to the MQTT client and not yet acknowledged."
    )
    handoff_queue_size: int = Field(
        10_000, ge=1, description="Pipeline-to-outbox in-memory queue length; overflow is counted as an eviction."
    )
    synchronous: str = Field(
        "full",
        pattern=r"^(full|normal)$",
        description="SQLite sync mode: full fsyncs each commit (survives power loss); "
        "normal may lose the last commits on power loss.",
    )


class ModelKind(StrEnum):
    AUTO = "auto"
    SSD = "ssd"
    YOLO = "yolo"
    YOLOX = "yolox"
    END_TO_END = "end_to_end"


class Delegate(StrEnum):
    CPU = "cpu"
    EDGETPU = "edgetpu"


class ModelConfig(StrictModel):
    path: str = Field(
        description="A .tflite or .onnx file path (the extension picks TFLite or ONNX Runtime), or a catalogue "
        "name (see `edge-agent models list`) found in model_dir."
    )
    labels: Path | None = Field(
        None, description="Label file, one label per line, line i = class i. Default: the catalogue's label file."
    )
    kind: ModelKind = Field(
        ModelKind.AUTO,
        description="Output layout: auto (inspect the tensors), ssd (TFLite_Detection_PostProcess), yolo (raw "
        "[1,4+C,N] or [1,N,4+C]), yolox (grid [1,N,5+C]) or end_to_end (boxes, scores, classes after NMS).",
    )
    threads: int = Field(2, ge=1, le=64, description="Interpreter CPU threads (ONNX Runtime: intra-op threads).")
    interpreters: int = Field(
        1,
        ge=1,
        le=8,
        description="Interpreters of this model (each with its own memory and threads), serving the cameras "
        "together; one camera is served by one interpreter at a time. More than 1 pays off with several busy "
        "cameras (on 2 cores, 2 x 1 thread beat 1 x 2 threads by 10-20% with 2-4 cameras) or several Edge TPUs.",
    )
    delegate: Delegate = Field(
        Delegate.CPU, description="cpu (XNNPACK) or edgetpu (needs libedgetpu.so.1 and an _edgetpu model)."
    )
    min_score: float = Field(
        0.5, ge=0.0, le=1.0, description="Detections below this score are discarded (cameras may raise it)."
    )
    nms_iou: float = Field(
        0.5, gt=0.0, le=1.0, description="IoU above which YOLO boxes of one class are merged by NMS."
    )
    max_detections: int = Field(50, ge=1, le=1000, description="Most detections kept per frame.")


class CameraConfig(StrictModel):
    source: str = Field(
        min_length=1,
        description="V4L2 device (/dev/video0 or an index), rtsp(s)://, http(s):// (MJPEG/HLS) URL, or a video file path.",
    )
    enabled: bool = Field(True, description="Set false to keep a camera in the file without running it.")
    loop: bool = Field(False, description="Files only: start again at the end instead of ending.")
    realtime: bool = Field(
        True,
        description="Files only: pace reading at the file's fps. false: as fast as the CPU allows (batch "
        "analysis: the next frame is decoded when the last was taken). Either way a file's frames carry "
        "media time, so events are the same.",
    )
    detect_fps: float = Field(
        5.0,
        gt=0,
        le=1000,
        description="Most detector runs per second for this camera; for a video file, per second of video "
        "(a 30 fps file at 5 analyses every 6th frame).",
    )
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Per-camera minimum score; default model.min_score."
    )
    objects: list[str] = Field(default_factory=list, description="Labels to report; empty reports every label.")
    ring_slots: int = Field(
        4, ge=3, le=64, description="Preallocated frame slots; the oldest unread frame is overwritten."
    )
    reconnect_initial_s: float = Field(1.0, gt=0, description="First reconnect delay after a read failure.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay.")
    open_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for a network stream to open before counting a failure."
    )
    read_timeout_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds a network stream read may hang before it counts as failed; "
        "also bounds how long stopping the camera can take.",
    )
    frozen_timeout_s: float = Field(
        20.0,
        ge=0,
        description="Seconds of identical pictures after which the stream counts as failed and is reopened; "
        "0 disables. Keep it above the camera's keyframe interval.",
    )
    decoder_threads: int = Field(
        1,
        ge=0,
        le=16,
        description="FFmpeg decode threads for this camera (files and streams). 1 decodes on the capture thread "
        "itself: about 2 MiB less per camera and no extra frame of delay, and 640x480 H.264 decoded no slower. "
        "0 is FFmpeg's default (one per core); raise it for a stream one core cannot decode at its frame rate.",
    )
    detect_resolution: DetectResolution | None = Field(
        None,
        description="Size frames are downscaled to in the capture thread before anything analyses them (motion, "
        "detector, zones, snapshots, published width/height); null analyses them at their native size. Never "
        "upscales. Pixel coordinates and areas (masks, zones, lines, filters, motion.mask) then refer to this "
        "analysed frame; 0..1 coordinates are unaffected.",
    )
    filters: dict[str, LabelFilter] = Field(default_factory=dict, description="Per-label score and box-area filters.")
    masks: tuple[Polygon, ...] = Field(
        default=(), description="Polygons where detections are ignored (box bottom-centre inside)."
    )
    zones: dict[Name, ZoneConfig] = Field(
        default_factory=dict, description="Named zones; events report the zones objects are in."
    )
    lines: dict[Name, LineConfig] = Field(
        default_factory=dict, description="Named count lines; crossings are counted per direction."
    )
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Object tracker settings.")
    events: EventsConfig = Field(default_factory=EventsConfig, description="Event lifecycle settings.")
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="Motion gate: skip the detector while nothing moves."
    )
    regions: RegionsConfig = Field(
        default_factory=RegionsConfig, description="Detect on model-size crops around motion and tracks."
    )
    anomalies: AnomalyConfig = Field(default_factory=AnomalyConfig, description="Anomaly detection for this camera.")
    states: dict[Name, StateClassifierConfig] = Field(
        default_factory=dict,
        description="Named state classifiers of a fixed region (garage door open/closed): <camera>/states/<name>.",
    )

    @field_validator("source")
    @classmethod
    def _openable(cls, source: str) -> str:
        classify_source(source)  # raises UnsupportedSource (a ValueError) saying what is supported
        return source

    @model_validator(mode="after")
    def _check_backoff(self) -> CameraConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class AgentConfig(StrictModel):
    device_id: Name = Field(description="This device's id: the second topic level; letters, digits, _ and -.")
    state_dir: Path = Field(Path("./state"), description="Directory for durable state (outbox, baselines).")
    model_dir: Path | None = Field(
        None,
        description="Directory searched for catalogue models and labels (e.g. an air-gapped mirror); default <state_dir>/models.",
    )
    worker_stall_s: float = Field(
        30.0,
        gt=0,
        description="A worker thread whose heartbeat is older than this is stalled: systemd WATCHDOG pings stop "
        "so the service manager restarts the agent. Keep it above cameras' open_timeout_s.",
    )
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Logging level.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection.")
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox of must-deliver messages.")
    model: ModelConfig = Field(description="The detector model.")
    snapshots: SnapshotConfig = Field(
        default_factory=SnapshotConfig, description="JPEG of each event's best frame (retained topic, optional files)."
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig, description="Optional Prometheus endpoint with the stats figures."
    )
    remote_config: RemoteConfigSettings = Field(
        default_factory=RemoteConfigSettings, description="Remote configuration over MQTT and config-file reloads."
    )
    discovery: DiscoveryConfig = Field(
        default_factory=DiscoveryConfig, description="Home Assistant MQTT discovery (off by default)."
    )
    classifiers: tuple[ObjectClassifierConfig, ...] = Field(
        default=(), description="Second-stage classifiers of events' best crops: they set the events' sub_label."
    )
    datasets: DatasetCaptureConfig = Field(
        default_factory=DatasetCaptureConfig,
        description="Field dataset capture for training classifiers (off by default).",
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Local event store with snapshots and clips (off by default)."
    )
    http: HttpConfig = Field(
        default_factory=HttpConfig, description="Local web page and read-only HTTP API (off by default)."
    )
    cameras: dict[Name, CameraConfig] = Field(description="Cameras by name (the third topic level).")
    groups: list[Name] = Field(
        default_factory=list,
        description="Fleet groups of this device; it also applies patches sent to <prefix>/groups/<g>/config/patch.",
    )

    @field_validator("cameras")
    @classmethod
    def _at_least_one(cls, cameras: dict[str, CameraConfig]) -> dict[str, CameraConfig]:
        if not cameras:
            raise ValueError("at least one camera is required")
        return cameras


def is_name(text: str) -> bool:
    return re.match(NAME_PATTERN, text) is not None
