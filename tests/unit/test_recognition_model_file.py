"""The classifier model file: round trip, checksum, shapes, and the backbone it was trained on."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from agent.errors import RecognitionError
from agent.recognition import load_classifier
from agent.recognition.model_file import (
    COEF_MEMBER,
    META_MEMBER,
    ClassifierFile,
    load_classifier_file,
    save_classifier_file,
)
from tests.support.recognition_models import backbone_path, classifier_file

LABELS = ("dark", "light", "coloured")


def rewrite_member(path: Path, member: str, data: bytes) -> None:
    """Replace one member of the zip, keeping the recorded checksum (what an edit or bit rot does)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts[member] = data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    path.write_bytes(buffer.getvalue())


def test_round_trip_keeps_labels_meta_and_arrays(tmp_path: Path) -> None:
    """What is saved loads back equal: labels, backbone reference, validation figures and the head arrays."""
    model = classifier_file(LABELS)
    path = tmp_path / "cars.clf"
    save_classifier_file(path, model)
    loaded = load_classifier_file(path)
    assert loaded.meta == model.meta
    np.testing.assert_array_equal(loaded.coef, model.coef)
    np.testing.assert_array_equal(loaded.intercept, model.intercept)


def test_tampered_weights_fail_the_checksum(tmp_path: Path) -> None:
    """Changing the head arrays inside the file is caught by its checksum, naming the file."""
    path = tmp_path / "cars.clf"
    save_classifier_file(path, classifier_file(LABELS))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 1024), np.float32), allow_pickle=False)
    rewrite_member(path, COEF_MEMBER, buffer.getvalue())
    with pytest.raises(RecognitionError, match=r"cars\.clf fails its checksum"):
        load_classifier_file(path)


def test_tampered_labels_fail_the_checksum(tmp_path: Path) -> None:
    """Renaming a class in meta.json by hand is caught too."""
    path = tmp_path / "cars.clf"
    save_classifier_file(path, classifier_file(LABELS))
    with zipfile.ZipFile(path) as archive:
        meta = archive.read(META_MEMBER).replace(b'"light"', b'"white"')
    rewrite_member(path, META_MEMBER, meta)
    with pytest.raises(RecognitionError, match="checksum"):
        load_classifier_file(path)


def test_not_a_classifier_file_is_named(tmp_path: Path) -> None:
    """A file that is not a zip gives an error naming it and how to make one."""
    path = tmp_path / "model.clf"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(RecognitionError, match=r"model\.clf.*edge-agent train"):
        load_classifier_file(path)


def test_head_shape_must_fit_the_classes(tmp_path: Path) -> None:
    """A head with the wrong number of rows for its labels is refused at save."""
    model = classifier_file(LABELS)
    wrong = ClassifierFile(model.meta, model.coef[:2], model.intercept[:2])
    with pytest.raises(RecognitionError, match="do not fit 3 classes"):
        save_classifier_file(tmp_path / "x.clf", wrong)


def test_model_trained_on_another_backbone_is_refused(tmp_path: Path) -> None:
    """A head recorded against another backbone sha256 does not load on this one; the error names both files."""
    path = tmp_path / "other.clf"
    save_classifier_file(path, classifier_file(LABELS, sha256="0" * 64))
    with pytest.raises(RecognitionError, match=r"other\.clf was trained on backbone .*retrain"):
        load_classifier(path, backbone=backbone_path())


def test_backbone_found_through_model_dir(tmp_path: Path) -> None:
    """The backbone named in the file is found in the model directory, and classify gives one of the labels."""
    path = tmp_path / "cars.clf"
    save_classifier_file(path, classifier_file(LABELS))
    classifier = load_classifier(path, model_dir=backbone_path().parent)
    assert classifier.labels == LABELS
    result = classifier.classify(np.full((37, 91, 3), 120, np.uint8))
    assert result.label in LABELS
    assert 0.0 < result.score <= 1.0


def test_missing_backbone_lists_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the backbone in any search dir the error names the file and the dirs tried."""
    monkeypatch.delenv("EDGE_AGENT_MODEL_DIR", raising=False)
    monkeypatch.delenv("EDGE_AGENT_MODEL_MIRROR", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cars.clf"
    save_classifier_file(path, classifier_file(LABELS))
    with pytest.raises(RecognitionError, match=rf"mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite not found .*{tmp_path.name}"):
        load_classifier(path, model_dir=tmp_path / "empty")
