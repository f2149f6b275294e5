"""Label files (agent.detect.labels) and the detector's label-count check against the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.schema import ModelConfig
from agent.detect import ModelDetector, load_labels
from agent.detect.labels import is_reportable, reportable_mask
from agent.errors import ModelError
from tests.support import assets


def test_line_i_is_class_i(tmp_path: Path) -> None:
    """Each line is one class in order; whitespace is stripped and blank lines keep their slot."""
    path = tmp_path / "labels.txt"
    path.write_text("person\n bicycle \n\n???\ncar\n", encoding="utf-8")
    assert load_labels(path) == ("person", "bicycle", "", "???", "car")


def test_real_ssd_labels_have_placeholders() -> None:
    """The SSD label file has 90 lines with `???` at the unused COCO ids (person 0, cat 16)."""
    labels = load_labels(assets.model(assets.SSD_LABELS))
    assert len(labels) == 90
    assert (labels[0], labels[16]) == ("person", "cat")
    assert [i for i, label in enumerate(labels) if label == "???"] == [11, 25, 28, 29, 44, 65, 67, 68, 70, 82]


@pytest.mark.parametrize(("label", "expected"), [("person", True), ("???", False), ("", False), ("? ", True)])
def test_is_reportable(label: str, expected: bool) -> None:
    """Only the `???` placeholder and empty labels are never reported."""
    assert is_reportable(label) is expected


def test_reportable_mask() -> None:
    """The mask is True exactly at reportable class ids."""
    assert reportable_mask(("a", "???", "", "b")).tolist() == [True, False, False, True]


def test_missing_label_file_names_the_path(tmp_path: Path) -> None:
    """A missing label file raises ModelError naming it."""
    missing = tmp_path / "missing.txt"
    with pytest.raises(ModelError, match="cannot read label file") as caught:
        load_labels(missing)
    assert str(missing) in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"???\n???\n", b"\xff\xfe\x00bad"])
def test_unusable_label_file(tmp_path: Path, content: bytes) -> None:
    """Empty, placeholder-only or non-UTF-8 label files are refused at load."""
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"label file .*labels\.txt"):
        load_labels(path)


def truncated_copy(source: Path, lines: int, target: Path) -> Path:
    target.write_text("\n".join(source.read_text(encoding="utf-8").splitlines()[:lines]) + "\n", encoding="utf-8")
    return target


@pytest.mark.runtime_compat
@pytest.mark.parametrize(
    ("model", "labels", "keep", "classes"),
    [
        pytest.param(assets.YOLO416_MODEL, assets.COCO80_LABELS, 79, 80, id="yolo-79-of-80"),
        pytest.param(assets.SSD_MODEL, assets.SSD_LABELS, 89, 90, id="ssd-89-of-90"),
    ],
)
def test_label_file_shorter_than_model_classes(
    tmp_path: Path, model: str, labels: str, keep: int, classes: int
) -> None:
    """A label file with fewer lines than the model's classes fails at load, naming both numbers."""
    short = truncated_copy(assets.model(labels), keep, tmp_path / "short.txt")
    with pytest.raises(ModelError) as caught:
        ModelDetector(assets.model(model), short, ModelConfig(path=model))
    message = str(caught.value)
    assert f"has {keep} labels" in message
    assert f"can emit {classes} classes" in message
    assert str(short) in message


@pytest.mark.runtime_compat
def test_ssd_model_with_coco80_labels_is_refused() -> None:
    """The 80-line YOLO label file does not fit the 90-class SSD model."""
    with pytest.raises(ModelError, match="has 80 labels"):
        ModelDetector(
            assets.model(assets.SSD_MODEL), assets.model(assets.COCO80_LABELS), ModelConfig(path=assets.SSD_MODEL)
        )
