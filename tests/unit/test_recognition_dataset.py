"""ImageFolder reading for `edge-agent train`: what trains, and every bad layout rejected naming the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.errors import RecognitionError
from agent.recognition.dataset import read_image, scan_image_folder
from agent.recognition.training import split_indices


def put_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        assert cv2.imwrite(str(folder / f"{i}.png"), np.full((8, 8, 3), i * 10, np.uint8))


def test_classes_are_sorted_folders_with_their_images(tmp_path: Path) -> None:
    """Folder names become classes in sorted order; each image gets its folder's index; hidden files skipped."""
    put_images(tmp_path / "open", 3)
    put_images(tmp_path / "closed", 2)
    (tmp_path / "open" / ".DS_Store").write_bytes(b"x")
    folder = scan_image_folder(tmp_path)
    assert folder.classes == ("closed", "open")
    assert folder.targets == (0, 0, 1, 1, 1)
    assert read_image(folder.paths[0]).shape == (8, 8, 3)


def test_empty_directory(tmp_path: Path) -> None:
    """No class folders: the error names the directory."""
    with pytest.raises(RecognitionError, match=rf"{tmp_path} is empty"):
        scan_image_folder(tmp_path)


def test_single_class(tmp_path: Path) -> None:
    """One class cannot train a classifier."""
    put_images(tmp_path / "car", 4)
    with pytest.raises(RecognitionError, match=r"single class \(car\)"):
        scan_image_folder(tmp_path)


def test_non_image_file_is_named(tmp_path: Path) -> None:
    """A text file among the images is named."""
    put_images(tmp_path / "a", 2)
    put_images(tmp_path / "b", 2)
    (tmp_path / "b" / "notes.txt").write_text("hello")
    with pytest.raises(RecognitionError, match=r"b/notes\.txt: not an image"):
        scan_image_folder(tmp_path)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    """A .jpg that does not decode is named when read."""
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(RecognitionError, match=r"broken\.jpg: unreadable image"):
        read_image(bad)


def test_class_with_one_image(tmp_path: Path) -> None:
    """A class needs an image for training and one for validation."""
    put_images(tmp_path / "a", 3)
    put_images(tmp_path / "b", 1)
    with pytest.raises(RecognitionError, match=r"class folder .*b has 1 image"):
        scan_image_folder(tmp_path)


def test_split_is_stratified_and_seeded() -> None:
    """Every class is in both parts, and the same seed gives the same split."""
    targets = [0] * 20 + [1] * 8
    train, val = split_indices(targets, 0.25, seed=1)
    again = split_indices(targets, 0.25, seed=1)
    assert {targets[i] for i in val} == {0, 1}
    assert sorted([*train, *val]) == list(range(28))
    assert np.array_equal(train, again[0])


def test_too_few_images_to_split() -> None:
    """A validation share smaller than the class count is a clear error, not a scikit-learn traceback."""
    with pytest.raises(RecognitionError, match="cannot split 4 images"):
        split_indices([0, 0, 1, 1], 0.1, seed=0)
