"""Builders for recognition tests: the shared backbone from the assets, and small classifier files with
known heads (for the model-file and classifier unit tests). Test thread only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.recognition.backbone import DEFAULT_BACKBONE
from agent.recognition.model_file import (
    FORMAT_VERSION,
    BackboneRef,
    ClassifierFile,
    ClassifierMeta,
    Validation,
)
from tests.support import assets

BACKBONE_SHA256 = "f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319"
FEATURES = 1024


def backbone_path() -> Path:
    return assets.model(DEFAULT_BACKBONE)


def classifier_file(labels: tuple[str, ...], sha256: str = BACKBONE_SHA256, seed: int = 0) -> ClassifierFile:
    """A classifier file with a random (seeded) head over the backbone's 1024 features."""
    rows = 1 if len(labels) == 2 else len(labels)
    rng = np.random.default_rng(seed)
    meta = ClassifierMeta(
        format="edge-agent-classifier",
        version=FORMAT_VERSION,
        labels=labels,
        backbone=BackboneRef(file=DEFAULT_BACKBONE, sha256=sha256),
        input_size=(224, 224),
        head="logistic",
        validation=Validation(accuracy=0.5, n_train=10, n_val=4, per_class={}),
        created="2026-01-01T00:00:00+00:00",
    )
    coef = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    intercept = rng.normal(size=(rows,)).astype(np.float32)
    return ClassifierFile(meta, coef, intercept)
