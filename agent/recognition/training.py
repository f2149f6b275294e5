"""Trains a crop classifier: stratified split, seeded augmentation of the training images, frozen
backbone features, a linear scikit-learn head, validation figures, and the optional HOG + linear SVM
baseline on the same split and the same (augmented) images. Runs on the train CLI's thread."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from agent.errors import RecognitionError
from agent.recognition.augment import Augmenter
from agent.recognition.backbone import Backbone
from agent.recognition.head import class_scores
from agent.recognition.hog import HogFeatures
from agent.recognition.model_file import (
    FORMAT_VERSION,
    BackboneRef,
    ClassifierFile,
    ClassifierMeta,
    Validation,
)

HeadKind = Literal["logistic", "linear_svm"]
Image = npt.NDArray[np.uint8]
FeatureFn = Callable[[Image], npt.NDArray[np.float32]]
# Regularisation of the head on unit-length features; chosen by tools/recognition_eval.py (docs/recognition.md).
DEFAULT_C = 100.0


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """What `edge-agent train` was asked for."""

    epochs: int = 200  # the head solver's iteration budget (passes over the features)
    augment: int = 4  # augmented copies of every training image (0: none)
    val_fraction: float = 0.25
    seed: int = 0
    head: HeadKind = "logistic"
    c: float = DEFAULT_C
    compare_baselines: bool = False


@dataclass(frozen=True, slots=True)
class Figures:
    """Validation result of one feature + head combination."""

    name: str
    accuracy: float
    per_class: dict[str, float]
    fit_s: float


@dataclass(frozen=True, slots=True)
class TrainOutcome:
    model: ClassifierFile
    backbone: Figures
    baselines: tuple[Figures, ...]
    n_train: int
    n_val: int
    total_s: float


def split_indices(
    targets: Sequence[int], val_fraction: float, seed: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Stratified train / validation indices; RecognitionError when the data are too few to split."""
    if not 0.0 < val_fraction < 1.0:
        raise RecognitionError(f"--val-fraction {val_fraction} must be between 0 and 1")
    indices = np.arange(len(targets))
    try:
        train, val = train_test_split(indices, test_size=val_fraction, random_state=seed, stratify=list(targets))
    except ValueError as exc:
        raise RecognitionError(
            f"cannot split {len(targets)} images into train and validation with --val-fraction {val_fraction}: {exc}"
        ) from exc
    return np.sort(train), np.sort(val)


def expand(
    images: Sequence[Image], targets: Sequence[int], copies: int, augmenter: Augmenter
) -> tuple[list[Image], list[int]]:
    """The images plus `copies` augmented versions of each, with their targets."""
    out_images = list(images)
    out_targets = list(targets)
    for _ in range(copies):
        out_images.extend(augmenter.augment(image) for image in images)
        out_targets.extend(targets)
    return out_images, out_targets


def featurise(fn: FeatureFn, images: Sequence[Image]) -> npt.NDArray[np.float32]:
    return np.stack([fn(image) for image in images]).astype(np.float32)


def fit_linear(
    kind: HeadKind, features: npt.NDArray[np.float32], targets: Sequence[int], c: float, max_iter: int, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Fit the head; returns (coef, intercept) as float32 arrays, applied later by head.class_scores."""
    model: LogisticRegression | LinearSVC
    if kind == "logistic":
        model = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    else:
        model = LinearSVC(C=c, max_iter=max_iter * 10, random_state=seed)
    with warnings.catch_warnings():
        # a head that has not fully converged still separates; the validation figure says how well
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, np.asarray(targets))
    return np.asarray(model.coef_, np.float32), np.asarray(model.intercept_, np.float32)


def evaluate(
    coef: npt.NDArray[np.float32], intercept: npt.NDArray[np.float32], features: npt.NDArray[np.float32],
    targets: Sequence[int], classes: Sequence[str],
) -> tuple[float, dict[str, float]]:
    """Accuracy and per-class recall of a linear head on validation features."""
    predicted = np.argmax(class_scores(features, coef, intercept), axis=1)
    truth = np.asarray(targets)
    per_class = {
        name: float(np.mean(predicted[truth == i] == i)) for i, name in enumerate(classes) if np.any(truth == i)
    }
    return float(np.mean(predicted == truth)), per_class


def fit_and_score(
    name: str, kind: HeadKind, train: tuple[npt.NDArray[np.float32], Sequence[int]],
    val: tuple[npt.NDArray[np.float32], Sequence[int]], classes: Sequence[str], settings: TrainSettings,
) -> tuple[Figures, npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    start = time.perf_counter()
    coef, intercept = fit_linear(kind, train[0], train[1], settings.c, settings.epochs, settings.seed)
    fit_s = time.perf_counter() - start
    accuracy, per_class = evaluate(coef, intercept, val[0], val[1], classes)
    return Figures(name, accuracy, per_class, fit_s), coef, intercept


def train_classifier(
    images: Sequence[Image], targets: Sequence[int], classes: tuple[str, ...], backbone: Backbone,
    settings: TrainSettings,
) -> TrainOutcome:
    """Train on `images` (targets index `classes`) and return the classifier file and its figures."""
    start = time.perf_counter()
    train_idx, val_idx = split_indices(targets, settings.val_fraction, settings.seed)
    train_images = [images[i] for i in train_idx]
    train_targets = [targets[i] for i in train_idx]
    val_images = [images[i] for i in val_idx]
    val_targets = [targets[i] for i in val_idx]
    augmenter = Augmenter(backbone.input_size, settings.seed)
    fit_images, fit_targets = expand(train_images, train_targets, settings.augment, augmenter)
    train_set = (featurise(backbone.features, fit_images), fit_targets)
    val_set = (featurise(backbone.features, val_images), val_targets)
    figures, coef, intercept = fit_and_score(
        f"backbone+{settings.head}", settings.head, train_set, val_set, classes, settings
    )
    baselines: tuple[Figures, ...] = ()
    if settings.compare_baselines:
        hog = HogFeatures()
        hog_train = (featurise(hog.features, fit_images), fit_targets)
        hog_val = (featurise(hog.features, val_images), val_targets)
        baselines = (fit_and_score("hog+linear_svm", "linear_svm", hog_train, hog_val, classes, settings)[0],)
    meta = ClassifierMeta(
        format="edge-agent-classifier",
        version=FORMAT_VERSION,
        labels=classes,
        backbone=BackboneRef(file=backbone.path.name, sha256=backbone.sha256),
        input_size=backbone.input_size,
        head=settings.head,
        validation=Validation(
            accuracy=figures.accuracy, n_train=len(train_idx), n_val=len(val_idx), per_class=figures.per_class
        ),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        training={
            "augment": settings.augment,
            "epochs": settings.epochs,
            "seed": settings.seed,
            "c": settings.c,
            "val_fraction": settings.val_fraction,
        },
    )
    return TrainOutcome(
        ClassifierFile(meta, coef, intercept), figures, baselines, len(train_idx), len(val_idx),
        time.perf_counter() - start,
    )

