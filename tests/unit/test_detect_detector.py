"""ModelDetector end to end on the real models and real photos (skimage.data): what it finds, where
its boxes land in the original frame, label filtering, thresholds and load-time validation."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest

from agent.config.schema import ModelConfig, ModelKind
from agent.detect import ModelDetector
from agent.errors import ModelError
from agent.types import Image
from tests.support import assets
from tests.support.photos import (
    ASTRONAUT_FACE,
    ASTRONAUT_PERSON,
    CHELSEA_CAT,
    CHELSEA_POINTS,
    MIN_IOU,
    PHOTO_MIN_SCORE,
    assert_steps_equal_detect,
    best,
    contains,
    iou,
    photo,
)


def make(model: str, labels: str, **cfg: object) -> ModelDetector:
    config = ModelConfig.model_validate({"path": model, "min_score": PHOTO_MIN_SCORE, **cfg})
    return ModelDetector(assets.model(model), assets.model(labels), config)


@pytest.fixture(scope="module")
def ssd() -> ModelDetector:
    return make(assets.SSD_MODEL, assets.SSD_LABELS)


@pytest.fixture(scope="module")
def yolo416() -> ModelDetector:
    return make(assets.YOLO416_MODEL, assets.COCO80_LABELS)


@pytest.fixture(scope="module")
def yolo640() -> ModelDetector:
    return make(assets.YOLO640_MODEL, assets.COCO80_LABELS)


@pytest.mark.runtime_compat
def test_models_describe_themselves(ssd: ModelDetector, yolo416: ModelDetector, yolo640: ModelDetector) -> None:
    """Kind and input size are read from the models: SSD 300x300, YOLOv8n 416x416 and 640x640."""
    assert (ssd.kind, ssd.input_size) == (ModelKind.SSD, (300, 300))
    assert (yolo416.kind, yolo416.input_size) == (ModelKind.YOLO, (416, 416))
    assert (yolo640.kind, yolo640.input_size) == (ModelKind.YOLO, (640, 640))


@pytest.mark.runtime_compat
@pytest.mark.parametrize("detector_name", ["ssd", "yolo416", "yolo640"])
def test_person_in_astronaut(request: pytest.FixtureRequest, detector_name: str) -> None:
    """Every model finds the astronaut as a person, boxed on her (face inside, IoU with the measured box)."""
    detector: ModelDetector = request.getfixturevalue(detector_name)
    person = best(detector.detect(photo("astronaut")).detections, "person")
    assert person.score >= 0.5  # lowest seen: 0.64 (SSD, litert)
    assert contains(person.box, ASTRONAUT_FACE)
    assert iou(person.box, ASTRONAUT_PERSON) >= MIN_IOU


@pytest.mark.runtime_compat
@pytest.mark.parametrize("detector_name", ["ssd", "yolo416"])
def test_cat_in_chelsea(request: pytest.FixtureRequest, detector_name: str) -> None:
    """SSD and YOLOv8n-416 find Chelsea as a cat whose box holds both eyes and the nose."""
    detector: ModelDetector = request.getfixturevalue(detector_name)
    cat = best(detector.detect(photo("chelsea")).detections, "cat")
    assert cat.score >= 0.4  # litert 0.66, tflite-runtime 0.50 (YOLOv8n-416)
    assert all(contains(cat.box, point) for point in CHELSEA_POINTS)
    assert iou(cat.box, CHELSEA_CAT) >= MIN_IOU


@pytest.mark.runtime_compat
@pytest.mark.parametrize("detector_name", ["ssd", "yolo416"])
def test_boxes_follow_the_original_frame(request: pytest.FixtureRequest, detector_name: str) -> None:
    """A frame made by repeating each pixel 2x across and 3x down gives the model the same input, and
    boxes scaled by exactly (2, 3): boxes are in the original frame's pixels, stretch-resized."""
    detector: ModelDetector = request.getfixturevalue(detector_name)
    base = cast(Image, cv2.resize(photo("astronaut"), detector.input_size))  # keeps the photo's uint8
    wide_tall = np.ascontiguousarray(np.repeat(np.repeat(base, 3, axis=0), 2, axis=1))
    small = best(detector.detect(base).detections, "person").box
    big = best(detector.detect(wide_tall).detections, "person").box
    expected = [small.x1 * 2, small.y1 * 3, small.x2 * 2, small.y2 * 3]
    np.testing.assert_allclose([big.x1, big.y1, big.x2, big.y2], expected, atol=0.5)


@pytest.mark.runtime_compat
@pytest.mark.parametrize("detector_name", ["ssd", "yolo416"])
def test_detections_are_clipped_sorted_and_thresholded(request: pytest.FixtureRequest, detector_name: str) -> None:
    """At score 0.1 every box lies inside the frame, has area, and scores are descending and above 0.1."""
    detector: ModelDetector = request.getfixturevalue(detector_name)
    for name in ("astronaut", "chelsea", "coffee"):
        image = photo(name)
        height, width = image.shape[:2]
        result = detector.detect(image, min_score=0.1)
        assert result.inference_ms > 0.0
        scores = [d.score for d in result.detections]
        assert scores == sorted(scores, reverse=True)
        assert all(s >= 0.1 for s in scores)
        for d in result.detections:
            assert 0 <= d.box.x1 < d.box.x2 <= width
            assert 0 <= d.box.y1 < d.box.y2 <= height
            assert d.label == detector.labels[d.class_id]


@pytest.mark.runtime_compat
def test_min_score_argument_overrides_config(ssd: ModelDetector) -> None:
    """min_score=None uses model.min_score (0.25 here); a higher argument removes weaker detections."""
    image = photo("astronaut")
    default = ssd.detect(image).detections
    strict = ssd.detect(image, min_score=0.62).detections
    assert any(d.score < 0.62 for d in default)
    assert all(d.score >= 0.62 for d in strict)
    assert {d.label for d in strict} <= {d.label for d in default}


@pytest.mark.runtime_compat
def test_repeated_detection_is_stable(yolo416: ModelDetector) -> None:
    """The same frame gives the same detections after other frames (no stale input or held tensor views)."""
    first = yolo416.detect(photo("chelsea")).detections
    yolo416.detect(photo("astronaut"))
    assert yolo416.detect(photo("chelsea")).detections == first


@pytest.mark.runtime_compat
@pytest.mark.parametrize("detector_name", ["ssd", "yolo416"])
def test_prepare_invoke_decode_equals_detect(request: pytest.FixtureRequest, detector_name: str) -> None:
    """The pipeline's three steps give what detect() gives, and an output decoded after the interpreter
    has run on another input is still its own (outputs are copied out, not views)."""
    assert_steps_equal_detect(request.getfixturevalue(detector_name))


@pytest.mark.runtime_compat
def test_max_detections_caps_results() -> None:
    """model.max_detections bounds the number of detections per frame."""
    detector = make(assets.YOLO416_MODEL, assets.COCO80_LABELS, max_detections=1)
    assert len(detector.detect(photo("coffee"), min_score=0.1).detections) == 1


@pytest.mark.runtime_compat
@pytest.mark.parametrize(
    ("model", "labels"),
    [(assets.SSD_MODEL, assets.SSD_LABELS), (assets.YOLO416_MODEL, assets.COCO80_LABELS)],
)
def test_placeholder_labels_are_never_returned(tmp_path: Path, model: str, labels: str) -> None:
    """With `cup` replaced by `???` in the label file, coffee() yields no cup and no `???`, but still a table."""
    lines = assets.model(labels).read_text(encoding="utf-8").splitlines()
    cup = lines.index("cup")
    lines[cup] = "???"
    hidden = tmp_path / "labels.txt"
    hidden.write_text("\n".join(lines) + "\n", encoding="utf-8")
    detector = ModelDetector(assets.model(model), hidden, ModelConfig(path=model, min_score=PHOTO_MIN_SCORE))
    detections = detector.detect(photo("coffee")).detections
    assert "dining table" in {d.label for d in detections}
    assert all(d.class_id != cup for d in detections)
    assert all(d.label not in ("???", "") for d in detections)


@pytest.mark.runtime_compat
def test_invoke_only_times_a_bare_invoke(ssd: ModelDetector) -> None:
    """invoke_only runs the interpreter on the current input and returns a positive duration in ms."""
    ssd.detect(photo("coffee"))
    assert ssd.invoke_only() > 0.0


@pytest.mark.runtime_compat
@pytest.mark.parametrize(
    ("model", "labels", "kind", "message"),
    [
        (assets.SSD_MODEL, assets.SSD_LABELS, ModelKind.YOLO, "not the YOLO raw-head layout"),
        (assets.YOLO416_MODEL, assets.COCO80_LABELS, ModelKind.SSD, "not the SSD post-process layout"),
    ],
)
def test_forced_kind_must_match_the_model(model: str, labels: str, kind: ModelKind, message: str) -> None:
    """model.kind that contradicts the output tensors fails at load, naming the model file."""
    with pytest.raises(ModelError, match=message) as caught:
        ModelDetector(assets.model(model), assets.model(labels), ModelConfig(path=model, kind=kind))
    assert model in str(caught.value)
