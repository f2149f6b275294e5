"""The frozen backbone: found like every model, pinned by sha256, and giving features that tell images apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.errors import RecognitionError
from agent.recognition.backbone import DEFAULT_BACKBONE, Backbone, resolve_backbone
from tests.support import assets
from tests.support.photos import photo
from tests.support.recognition_models import backbone_path


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone(backbone_path(), threads=1)


def test_features_are_unit_vectors_of_1024(backbone: Backbone) -> None:
    """Any crop size gives 1024 features of unit length."""
    for shape in ((17, 300, 3), (224, 224, 3), (480, 640, 3)):
        vector = backbone.features(np.ascontiguousarray(np.resize(photo("chelsea"), shape)))
        assert vector.shape == (1024,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


def test_same_cat_is_nearer_than_coffee(backbone: Backbone) -> None:
    """A flipped, cropped copy of chelsea is much nearer to chelsea than coffee is (assets README: 0.97 vs 0.37)."""
    cat = photo("chelsea")
    copy = np.ascontiguousarray(cat[20:280, 30:420][:, ::-1])
    base = backbone.features(cat)
    assert float(base @ backbone.features(copy)) > 0.85
    assert float(base @ backbone.features(photo("coffee"))) < 0.6


def test_default_name_found_in_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With no model dir, the default backbone is found by file name in $EDGE_AGENT_MODEL_MIRROR."""
    monkeypatch.delenv("EDGE_AGENT_MODEL_DIR", raising=False)
    monkeypatch.setenv("EDGE_AGENT_MODEL_MIRROR", str(backbone_path().parent))
    monkeypatch.chdir(tmp_path)
    assert resolve_backbone(None) == backbone_path().parent / DEFAULT_BACKBONE


def test_wrong_file_under_the_known_name_is_refused(tmp_path: Path) -> None:
    """Another model saved as the default backbone's file name fails its pinned sha256, naming the file."""
    impostor = tmp_path / DEFAULT_BACKBONE
    shutil.copy(assets.model("mobilenet_v2_1.0_224_quant.tflite"), impostor)
    with pytest.raises(RecognitionError, match=rf"{impostor} is not the known .*sha256"):
        Backbone(impostor)


def test_edgetpu_build_is_refused_with_the_cpu_name() -> None:
    """The Edge TPU build names the CPU file to use instead of the runtime's custom-op error."""
    edgetpu = assets.model("mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite")
    with pytest.raises(RecognitionError, match=r"Edge TPU build.*use mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite"):
        Backbone(edgetpu)


def test_a_detector_is_not_a_backbone() -> None:
    """A model with several outputs (the SSD detector) is refused."""
    with pytest.raises(RecognitionError, match="one input and one output"):
        Backbone(assets.model(assets.SSD_MODEL))
