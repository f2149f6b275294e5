"""Pydantic model of a camera's appearance re-identification: which model embeds person crops,
for which labels, how often, and how close two embeddings must be to be one object.

Used by agent.config.analytics.TrackerConfig; the model file is checked against the disk at load
(agent.config.checks), like the detector's."""

from __future__ import annotations

from pydantic import Field

from agent.config.base import StrictModel

DEFAULT_REID_MODEL = "osnet_x0_25_msmt17.onnx"


class ReidConfig(StrictModel):
    model: str = Field(
        default=DEFAULT_REID_MODEL,
        min_length=1,
        description="Re-identification .onnx model: a file path, or a file name looked up in model_dir. "
        "It maps an RGB crop to one embedding vector (OSNet: [N,3,256,128] -> [N,512]).",
    )
    labels: tuple[str, ...] = Field(
        default=("person",),
        min_length=1,
        description="Labels whose tracks get embeddings and re-entry linking; other labels end at max_age_s. "
        "OSNet was trained on people only.",
    )
    # 25: the same IDF1 on the labelled walkway as 10, with half the crops (docs/events.md).
    every_n_frames: int = Field(
        default=25,
        ge=1,
        le=10_000,
        description="Besides at its birth, a matched track's crop is embedded every this many of its hits "
        "(bounds the cost: about people_in_view / every_n_frames embeddings per detector run).",
    )
    max_cosine_distance: float = Field(
        default=0.3,
        gt=0.0,
        le=2.0,
        description="A new track continues a lost one of the same label when the cosine distance "
        "(1 - cos) of their embeddings is at most this. OSNet on the walkway: same person ~0.1, others ~0.5.",
    )
    gallery_size: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Embeddings kept per track (oldest dropped); a candidate's distance "
        "is its least distance to any of them.",
    )
    min_box_height_px: float = Field(
        default=24.0,
        ge=0.0,
        description="Boxes shorter than this (pixels of the analysed frame) are not embedded: too few pixels "
        "to tell people apart.",
    )
    max_speed_heights_per_s: float = Field(
        default=0.5,
        gt=0.0,
        le=100.0,
        description="A new track may continue a lost one only if its box centre is within (1 + this x seconds "
        "lost) box heights of where the lost one was last seen: a person hidden or undetected moves on slowly.",
    )
    edge_margin_px: float = Field(
        default=8.0,
        ge=0.0,
        description="A track last seen this close to the frame edge has left the view: it ends at max_age_s "
        "instead of waiting for a re-entry (someone else entering there is not it).",
    )
    threads: int = Field(default=1, ge=1, le=16, description="ONNX Runtime intra-op threads of the re-id model.")
