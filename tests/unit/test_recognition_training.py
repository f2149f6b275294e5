"""train_classifier on real photos with the real backbone: reproducible by seed, and a usable classifier file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from agent.recognition.backbone import Backbone
from agent.recognition.classifier import CropClassifier
from agent.recognition.model_file import load_classifier_file, save_classifier_file
from agent.recognition.training import TrainSettings, train_classifier
from tests.support.photos import photo
from tests.support.recognition_models import backbone_path

CLASSES = ("cat", "coffee")


def random_crops(name: str, count: int, seed: int) -> list[npt.NDArray[np.uint8]]:
    image = photo(name)
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    crops = []
    for _ in range(count):
        ch, cw = int(rng.integers(h // 2, h)), int(rng.integers(w // 2, w))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crops.append(np.ascontiguousarray(image[y : y + ch, x : x + cw]))
    return crops


@pytest.fixture(scope="module")
def data() -> tuple[list[npt.NDArray[np.uint8]], list[int]]:
    images = random_crops("chelsea", 8, 1) + random_crops("coffee", 8, 2)
    return images, [0] * 8 + [1] * 8


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(backbone_path(), threads=2)


def test_same_seed_same_head(data: tuple[list[npt.NDArray[np.uint8]], list[int]], backbone: Backbone) -> None:
    """Two runs with one seed (split, augmentation, solver) give identical head weights and figures."""
    images, targets = data
    settings = TrainSettings(augment=2, seed=5)
    first = train_classifier(images, targets, CLASSES, backbone, settings)
    second = train_classifier(images, targets, CLASSES, backbone, settings)
    np.testing.assert_array_equal(first.model.coef, second.model.coef)
    assert first.model.meta.validation == second.model.meta.validation
    assert (first.n_train, first.n_val) == (12, 4)


def test_trained_file_classifies_new_crops(
    data: tuple[list[npt.NDArray[np.uint8]], list[int]], backbone: Backbone, tmp_path: Path
) -> None:
    """The saved file records labels and backbone, and classifies unseen crops of both photos correctly."""
    images, targets = data
    outcome = train_classifier(images, targets, CLASSES, backbone, TrainSettings(augment=1, compare_baselines=True))
    assert [f.name for f in outcome.baselines] == ["hog+linear_svm"]
    path = tmp_path / "photos.clf"
    save_classifier_file(path, outcome.model)
    model = load_classifier_file(path)
    assert model.meta.labels == CLASSES
    assert model.meta.backbone.sha256 == backbone.sha256
    assert model.meta.training["augment"] == 1
    classifier = CropClassifier(model, backbone, path)
    for name, label in (("chelsea", "cat"), ("coffee", "coffee")):
        for crop in random_crops(name, 3, 99):
            result = classifier.classify(crop)
            assert result.label == label
            assert result.score > 0.5
