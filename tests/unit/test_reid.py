"""Re-identification: OSNet embeddings of real walkway crops tell people apart, and tracker.reid is checked at load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.config import load_config_text
from agent.config.analytics import TrackerConfig
from agent.config.checks import check_config
from agent.config.reid import ReidConfig
from agent.detect.runner import open_runner
from agent.errors import ModelError
from agent.reid.embedder import CropEmbedder
from agent.types import BBox
from tests.support import assets
from tests.support.reid import osnet, person_boxes, walkway_frames, yolo_detector


def _centre_distance(a: BBox, b: BBox) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return math.hypot(ax - bx, ay - by)


def test_same_person_half_a_second_apart_is_closer_than_anyone_else() -> None:
    """Each walker's crop at frame 0 is within the default max_cosine_distance of their crop 0.5 s later, and
    every other walker's crop is beyond it."""
    frames = walkway_frames({0, 5})
    detector, embedder = yolo_detector(), osnet()
    first, later = person_boxes(detector, frames[0]), person_boxes(detector, frames[5])
    assert len(first) >= 3
    a = np.stack(embedder.embed(frames[0], first))
    b = np.stack(embedder.embed(frames[5], later))
    assert a.shape[1] == 512
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    distance = 1.0 - a @ b.T
    threshold = ReidConfig().max_cosine_distance
    for i, box in enumerate(first):
        same = min(range(len(later)), key=lambda j: _centre_distance(box, later[j]))
        assert _centre_distance(box, later[same]) < 60.0  # a walker moves ~35 px in 0.5 s
        assert distance[i, same] < threshold
        others = [distance[i, j] for j in range(len(later)) if j != same]
        assert min(others) > threshold


def test_boxes_at_or_past_the_frame_edge_still_embed() -> None:
    """A box partly or wholly outside the frame gives a unit vector, not an exception."""
    frame = walkway_frames({0})[0]
    vectors = osnet().embed(frame, [BBox(-20, -20, 30, 80), BBox(900, 700, 950, 800)])
    assert [round(float(np.linalg.norm(v)), 4) for v in vectors] == [1.0, 1.0]


def test_a_detector_is_refused_as_a_reid_model() -> None:
    """A model without a float [N,3,H,W] input (the SSD) is a ModelError naming the file, at start-up."""
    path = assets.model(assets.SSD_MODEL)
    with pytest.raises(ModelError, match="expected one float"):
        CropEmbedder(open_runner(path, 1), path)


BASE = "device_id: dev1\nmodel_dir: {models}\nmodel:\n  path: {model}\ncameras:\n  front:\n    source: {video}\n"


def _config(camera_yaml: str) -> str:
    return (
        BASE.format(
            models=assets.assets_dir() / "models",
            model=assets.model(assets.SSD_MODEL),
            video=assets.video(assets.PEDESTRIANS),
        )
        + camera_yaml
    )


@pytest.mark.parametrize(
    ("camera_yaml", "dotted", "message"),
    [
        ("    tracker:\n      reid: {}\n", None, ""),
        ("    tracker:\n      reid:\n        model: nope.onnx\n", "cameras.front.tracker.reid.model", "does not exist"),
        (
            "    objects: [car]\n    tracker:\n      reid: {}\n",
            "cameras.front.tracker.reid.labels.0",
            "not in this camera's objects",
        ),
        (
            "    tracker:\n      reid:\n        labels: [persn]\n",
            "cameras.front.tracker.reid.labels.0",
            "did you mean 'person'",
        ),
    ],
)
def test_reid_config_is_checked_at_load(camera_yaml: str, dotted: str | None, message: str) -> None:
    """The re-id model must exist (a file name is looked up in model_dir) and its labels must be reportable."""
    findings = [f for f in check_config(load_config_text(_config(camera_yaml))) if f.blocking]
    if dotted is None:
        assert findings == []
    else:
        assert [f.dotted for f in findings] == [dotted]
        assert message in findings[0].msg


def test_unknown_reid_key_is_refused() -> None:
    """reid's fields are strict: a typo is a config error, and max_cosine_distance must be > 0."""
    with pytest.raises(ValueError, match="every_n_frame"):
        TrackerConfig.model_validate({"reid": {"every_n_frame": 3}})
    with pytest.raises(ValueError, match="max_cosine_distance"):
        TrackerConfig.model_validate({"reid": {"max_cosine_distance": 0}})


def test_hold_is_the_window_only_for_reid_labels() -> None:
    """reid_hold_s is reid_window_s for re-id labels and max_age_s for others or without reid."""
    cfg = TrackerConfig(max_age_s=2.0, reid_window_s=15.0, reid=ReidConfig(labels=("person",)))
    assert (cfg.reid_hold_s("person"), cfg.reid_hold_s("car")) == (15.0, 2.0)
    assert TrackerConfig(max_age_s=2.0).reid_hold_s("person") == 2.0
