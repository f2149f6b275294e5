"""Pydantic models of the second stage: object classifiers, state classifiers and field dataset capture.

All off by default (empty lists, `datasets.enabled: false`). Models are files made by
`edge-agent train` (agent.recognition); a relative `model` path is relative to the config file,
and the backbone it was trained on is found in the model directory (or mirror) like the detector. Used by agent.config.schema; read by agent.classify and agent.dataset."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from agent.config.base import StrictModel

Region = tuple[float, float, float, float]


class ObjectClassifierConfig(StrictModel):
    model: Path = Field(description="Classifier file from `edge-agent train` (relative to the config file).")
    labels: tuple[str, ...] = Field(
        min_length=1, description="Detector labels whose events are classified, e.g. [car]."
    )
    cameras: tuple[str, ...] = Field(default=(), description="Cameras it runs on; empty: every camera.")
    min_score: float = Field(0.6, ge=0.0, le=1.0, description="Lowest classifier score that sets an event's sub_label.")
    min_interval_s: float = Field(
        2.0,
        ge=0.0,
        description="Seconds between two classifications of one event (a new best crop sooner waits).",
    )

    def applies_to(self, camera: str, label: str) -> bool:
        return label in self.labels and (not self.cameras or camera in self.cameras)


class StateClassifierConfig(StrictModel):
    model: Path = Field(description="Classifier file from `edge-agent train` whose classes are the states.")
    region: Region = Field(
        description="x1, y1, x2, y2 of the part of the frame classified: pixels of the analysed frame, or all "
        "four in 0..1 as fractions of its width and height."
    )
    interval_s: float = Field(10.0, gt=0.0, description="Seconds between two classifications of the region.")
    on_motion: bool = Field(
        False,
        description="Classify only while the camera's motion gate sees motion (every interval_s), and once "
        "when motion stops; false: every interval_s regardless.",
    )
    min_score: float = Field(
        0.0, ge=0.0, le=1.0, description="A state change is published only when its score reaches this."
    )

    @model_validator(mode="after")
    def _ordered(self) -> StateClassifierConfig:
        x1, y1, x2, y2 = self.region
        if min(self.region) < 0:
            raise ValueError(f"region {list(self.region)} has a negative coordinate")
        if not (x2 > x1 and y2 > y1):
            raise ValueError(f"region {list(self.region)} must have x2 > x1 and y2 > y1")
        return self

    @property
    def normalised(self) -> bool:
        return max(self.region) <= 1.0


class DatasetCaptureConfig(StrictModel):
    enabled: bool = Field(False, description="Save crops (and optionally frames) of ended events for training.")
    dir: Path | None = Field(None, description="Dataset directory; default <state_dir>/datasets.")
    labels: tuple[str, ...] = Field(default=("person", "car"), description="Labels whose events are captured.")
    cameras: tuple[str, ...] = Field(default=(), description="Cameras captured; empty: every camera.")
    max_mb: float = Field(
        500.0, gt=0.0, description="The directory is kept under this many MB, the oldest captures removed first."
    )
    dedupe_cosine: float = Field(
        0.97,
        gt=0.0,
        le=1.0,
        description="A crop whose backbone embedding has at least this cosine similarity with one of the last "
        "kept crops of its camera and label is a near-duplicate and skipped; 1.0 keeps everything.",
    )
    dedupe_memory: int = Field(
        200, ge=1, le=10_000, description="How many recent crops per camera and label are compared."
    )
    full_frames: bool = Field(
        False, description="Also save the full frame with every detection as a YOLO txt label file."
    )
    min_crop_px: int = Field(24, ge=8, description="Crops smaller than this on either side are not saved.")
    queue_size: int = Field(16, ge=1, le=1000, description="Most captures waiting; more are dropped and counted.")

    def applies_to(self, camera: str, label: str) -> bool:
        return self.enabled and label in self.labels and (not self.cameras or camera in self.cameras)
