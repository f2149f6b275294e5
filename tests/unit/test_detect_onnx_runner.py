"""The model-runner interface (agent.detect.runner) on both runtimes with models other than detectors:
an embedding backbone (MobileNet v1 on TFLite) and a person re-identification model (OSNet on ONNX
Runtime), each fed and read through run() alone; plus the runtime choice by file extension."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from agent.config.schema import ModelConfig
from agent.detect import ModelDetector
from agent.detect.runner import ModelRunner, open_runner
from agent.errors import ModelError
from agent.types import Image
from tests.support import assets, onnx_models
from tests.support.photos import photo

EMBEDDING_TFLITE = "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
REID_ONNX = "osnet_x0_25_msmt17.onnx"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def cosine(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def mobilenet_embedding(runner: ModelRunner, image: Image) -> npt.NDArray[Any]:
    rgb = cv2.cvtColor(cv2.resize(image, (224, 224)), cv2.COLOR_BGR2RGB)
    return runner.run((rgb[None],))[0]


def osnet_embedding(runner: ModelRunner, crop: Image) -> npt.NDArray[Any]:
    rgb = cv2.cvtColor(cv2.resize(crop, (128, 256)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    tensor = ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
    return runner.run((np.ascontiguousarray(tensor),))[0]


def test_runtime_is_chosen_by_extension(tmp_path: Path) -> None:
    """.tflite opens on a TFLite runtime, .onnx on onnxruntime, anything else is refused naming both."""
    tflite = open_runner(assets.model(EMBEDDING_TFLITE), 1)
    onnx = open_runner(assets.model(REID_ONNX), 1)
    assert tflite.runtime_name in ("litert", "tflite_runtime", "tensorflow")
    assert onnx.runtime_name == "onnxruntime"
    other = tmp_path / "model.pb"
    other.write_bytes(b"x")
    with pytest.raises(ModelError, match=r"neither \.tflite nor \.onnx"):
        open_runner(other, 1)


def test_tensors_are_described_on_both_runtimes() -> None:
    """Inputs and outputs come with shapes and dtypes; OSNet's symbolic batch dim counts as 1."""
    tflite = open_runner(assets.model(EMBEDDING_TFLITE), 2)
    onnx = open_runner(assets.model(REID_ONNX), 2)
    assert [(t.shape, t.dtype) for t in tflite.inputs] == [((1, 224, 224, 3), np.dtype(np.uint8))]
    assert [t.shape for t in tflite.outputs] == [(1, 1, 1, 1024)]
    assert [(t.shape, t.dtype) for t in onnx.inputs] == [((1, 3, 256, 128), np.dtype(np.float32))]
    assert [t.shape for t in onnx.outputs] == [(1, 512)]
    assert (tflite.threads, onnx.threads) == (2, 2)


def test_embedding_backbone_on_tflite_runs_through_the_interface() -> None:
    """MobileNet v1's embedding of chelsea() is close to a flipped, cropped copy's and far from coffee()'s."""
    runner = open_runner(assets.model(EMBEDDING_TFLITE), 1)
    cat = photo("chelsea")
    same = mobilenet_embedding(runner, np.ascontiguousarray(cat[20:280, 30:420, :][:, ::-1]))
    first = mobilenet_embedding(runner, cat)
    other = mobilenet_embedding(runner, photo("coffee"))
    assert cosine(first, same) > 0.9  # README: 0.97
    assert cosine(first, other) < 0.6  # README: 0.37


def test_reid_model_on_onnx_runs_through_the_interface() -> None:
    """OSNet's embeddings of the people YOLOX finds in two frames 0.2 s apart: each person is closer to
    their own crop in the other frame than to anyone else's, on average by a clear margin."""
    labels = assets.model(assets.COCO80_LABELS)
    model = assets.model(onnx_models.YOLOX_MODEL)
    detector = ModelDetector(model, labels, ModelConfig(path=str(model), min_score=0.6))
    capture = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    frames = [cast(Image, capture.read()[1]) for _ in range(3)][::2]  # 8-bit BGR frames
    capture.release()
    runner = open_runner(assets.model(REID_ONNX), 1)
    people = []
    for frame in frames:
        boxes = [d.box for d in detector.detect(frame).detections if d.label == "person"]
        crops = [frame[int(b.y1) : int(b.y2), int(b.x1) : int(b.x2)] for b in boxes]
        people.append((boxes, [osnet_embedding(runner, np.ascontiguousarray(c)) for c in crops]))
    (boxes0, emb0), (boxes1, emb1) = people
    assert len(boxes0) >= 3
    same: list[float] = []
    different: list[float] = []
    for box, embedding in zip(boxes0, emb0, strict=True):
        nearest = min(range(len(boxes1)), key=lambda j: float(np.hypot(*np.subtract(box.center, boxes1[j].center))))
        same.append(cosine(embedding, emb1[nearest]))
        different.extend(cosine(embedding, emb1[j]) for j in range(len(boxes1)) if j != nearest)
    assert np.mean(same) > 0.8  # README: ~0.92 for one person in two frames
    assert np.mean(same) > np.mean(different) + 0.15  # README: 0.45-0.52 between people


def test_outputs_are_copies_on_both_runtimes() -> None:
    """An output returned by run() keeps its values after the runner runs on another input."""
    for runner, image in (
        (open_runner(assets.model(EMBEDDING_TFLITE), 1), photo("chelsea")),
        (open_runner(assets.model(REID_ONNX), 1), photo("astronaut")),
    ):
        embed = mobilenet_embedding if runner.runtime_name != "onnxruntime" else osnet_embedding
        first = embed(runner, image)
        kept = first.copy()
        embed(runner, photo("coffee"))
        np.testing.assert_array_equal(first, kept)
