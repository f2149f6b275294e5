"""Augmentation (seeded, label-preserving sizes), HOG features and the numpy head that applies trained weights."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from agent.recognition.augment import Augmenter
from agent.recognition.head import class_scores
from agent.recognition.hog import FEATURE_COUNT, HogFeatures
from tests.support.photos import photo


def crop() -> np.ndarray[tuple[int, ...], np.dtype[np.uint8]]:
    return np.ascontiguousarray(photo("chelsea")[50:250, 100:300])


def test_same_seed_gives_the_same_augmentations() -> None:
    """Two augmenters with one seed produce identical image sequences; another seed does not."""
    image = crop()
    a, b, c = Augmenter((224, 224), seed=7), Augmenter((224, 224), seed=7), Augmenter((224, 224), seed=8)
    run_a = [a.augment(image) for _ in range(5)]
    run_b = [b.augment(image) for _ in range(5)]
    run_c = [c.augment(image) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(run_a, run_b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(run_a, run_c, strict=True))


def test_augmented_images_have_the_requested_size_and_vary() -> None:
    """Every copy has the backbone's input size, and successive copies differ from each other."""
    augmenter = Augmenter((160, 120), seed=0)
    copies = [augmenter.augment(crop()) for _ in range(6)]
    assert {c.shape for c in copies} == {(120, 160, 3)}
    assert len({c.tobytes() for c in copies}) == 6


def test_augmentation_keeps_colour_roughly() -> None:
    """Hue is barely jittered: a red patch stays red (car colour must survive augmentation)."""
    red = np.zeros((80, 120, 3), np.uint8)
    red[..., 2] = 200
    red[..., :2] = 30
    augmenter = Augmenter((64, 64), seed=3)
    for _ in range(20):
        mean = augmenter.augment(red).reshape(-1, 3).mean(axis=0)
        assert mean[2] > 1.5 * max(mean[0], mean[1])


def test_hog_vector_length_and_norm() -> None:
    """HOG gives FEATURE_COUNT values of unit length for any crop size."""
    hog = HogFeatures()
    for shape in ((30, 50, 3), (200, 200, 3), (480, 640, 3)):
        vector = hog.features(np.ascontiguousarray(np.resize(crop(), shape)))
        assert vector.shape == (FEATURE_COUNT,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_hog_sees_edge_orientation() -> None:
    """Vertical and horizontal stripes give clearly different HOG vectors; a rescaled copy a near-identical one."""
    hog = HogFeatures()
    vertical = np.zeros((64, 64, 3), np.uint8)
    vertical[:, ::8] = 255
    horizontal = np.ascontiguousarray(vertical.transpose(1, 0, 2))
    bigger = np.repeat(np.repeat(vertical, 2, axis=0), 2, axis=1)
    v, h, b = hog.features(vertical), hog.features(horizontal), hog.features(bigger)
    assert float(v @ h) < 0.5
    assert float(v @ b) > 0.9


def test_hog_rejects_a_non_image() -> None:
    """A float or grey array is not a crop."""
    with pytest.raises(ValueError, match="uint8 BGR"):
        HogFeatures().features(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_numpy_head_matches_scikit_learn(classes: int) -> None:
    """class_scores on the stored coef/intercept equals LogisticRegression.predict_proba, binary and multiclass."""
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(120, 16)).astype(np.float32)
    y = rng.integers(0, classes, size=120)
    y[:classes] = np.arange(classes)
    model = LogisticRegression(max_iter=500).fit(x, y)
    ours = class_scores(x, model.coef_.astype(np.float32), model.intercept_.astype(np.float32))
    np.testing.assert_allclose(ours, model.predict_proba(x), atol=1e-4)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)
