"""CropClassifier: a trained classifier file on its frozen backbone, classify(crop) -> Classification.

Not thread-safe: it owns one backbone runner and its input buffer. Build one instance per thread that
classifies (a classifier sink's worker thread, a state sampler's thread), or guard a shared one with a
lock; never call it on the detector thread per frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.errors import RecognitionError
from agent.recognition.backbone import Backbone, resolve_backbone
from agent.recognition.head import class_scores
from agent.recognition.model_file import ClassifierFile, ClassifierMeta, load_classifier_file


@dataclass(frozen=True, slots=True)
class Classification:
    """The best class of one crop and its score (0-1; the head's softmax, see head.py)."""

    label: str
    score: float


class CropClassifier:
    """One trained head on its backbone. classify() takes one uint8 BGR HxWx3 crop of any size."""

    def __init__(self, model: ClassifierFile, backbone: Backbone, source: Path) -> None:
        if backbone.sha256 != model.meta.backbone.sha256:
            raise RecognitionError(
                f"classifier {source} was trained on backbone {model.meta.backbone.file} "
                f"(sha256 {model.meta.backbone.sha256[:12]}...) but {backbone.path} has sha256 "
                f"{backbone.sha256[:12]}...: retrain it with `edge-agent train --backbone {backbone.path}`, "
                f"or put the original {model.meta.backbone.file} in the model directory"
            )
        self.meta: ClassifierMeta = model.meta
        self.labels: tuple[str, ...] = model.meta.labels
        self.source: Path = source
        self._backbone = backbone
        self._coef = model.coef
        self._intercept = model.intercept

    def scores(self, image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Every class's score for one crop, in `labels` order."""
        features = self._backbone.features(image_bgr)
        result: npt.NDArray[np.float32] = class_scores(features, self._coef, self._intercept)[0]
        return result

    def classify(self, image_bgr: npt.NDArray[np.uint8]) -> Classification:
        """The best class of one crop (resized to the backbone's input here)."""
        scores = self.scores(image_bgr)
        best = int(np.argmax(scores))
        return Classification(self.labels[best], float(scores[best]))

    def invoke_only(self) -> None:
        """The bare backbone invoke (benchmark reference)."""
        self._backbone.invoke_only()


def load_classifier(
    path: Path,
    model_dir: Path | None = None,
    mirror: Path | None = None,
    backbone: Path | None = None,
    threads: int = 1,
) -> CropClassifier:
    """Load the classifier file `path` and its backbone. The backbone is `backbone` if given, else the file
    name recorded in the classifier, found in model_dir / mirror ($EDGE_AGENT_MODEL_DIR,
    $EDGE_AGENT_MODEL_MIRROR) like every model. RecognitionError when the file is bad, the backbone is
    missing, or it is not the one the head was trained on (sha256 mismatch, naming both files)."""
    model = load_classifier_file(path)
    backbone_path = resolve_backbone(backbone if backbone is not None else model.meta.backbone.file, model_dir, mirror)
    return CropClassifier(model, Backbone(backbone_path, threads), path)
