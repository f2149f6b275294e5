"""`edge-agent models quantize` on the shared YOLOX-nano and a real video, kept small (a few frames) so
it runs in seconds: it writes an int8 QDQ model the agent can load, reports the agreement with the
fp32 model per label on held-out frames and both speeds, and warns about too few calibration frames.
The frames-vs-agreement table comes from tools/bench.py onnx, not from here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest

from agent.cli.main import main
from agent.config.schema import ModelConfig, ModelKind
from agent.detect import ModelDetector
from agent.detect.agreement import LabelAgreement, agreement, overall
from agent.detect.frame_picks import pick
from agent.detect.quantize import MIN_CALIBRATION_FRAMES
from agent.types import BBox, Detection
from tests.support import assets, onnx_models


def test_quantize_writes_a_loadable_int8_model_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """4 calibration frames: an opset-13 QDQ model is written and loads as YOLOX; the report names the
    held-out agreement per label and both speeds; stderr warns that 4 frames are too few."""
    out = tmp_path / "yolox_int8.onnx"
    video = assets.video(assets.PEDESTRIANS)
    model = str(assets.model(onnx_models.YOLOX_MODEL))
    small = ["--frames", "4", "--held-out", "4", "--threads", "1"]
    code = main(["models", "quantize", model, "--calibration", str(video), "--out", str(out), *small])
    assert code == 0
    captured = capsys.readouterr()
    assert "percentile calibration on 4 frames" in captured.out
    assert "converted from opset 11" in captured.out
    assert "agreement with the fp32 model on 4 held-out frames" in captured.out
    assert "  person " in captured.out
    assert "  all " in captured.out
    assert re.search(r"fp32 \d+\.\d ms, int8 \d+\.\d ms \(\d+\.\d\dx\)", captured.out), captured.out
    assert re.search(r"  person +\d+ / \d+ +\d+\.\d%", captured.out), captured.out
    assert f"fewer than {MIN_CALIBRATION_FRAMES}" in captured.err
    proto = onnx.load(str(out))
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} >= {13}
    assert any(node.op_type == "QuantizeLinear" for node in proto.graph.node)
    labels = assets.model(assets.COCO80_LABELS)
    assert ModelDetector(out, labels, ModelConfig(path=str(out))).kind is ModelKind.YOLOX


def test_quantize_without_labels_for_an_unknown_model_says_pass_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model the catalogue does not know, with no <stem>.labels.txt beside it, exits 1 asking for --labels."""
    model = onnx_models.yolov8_style(tmp_path / "mine.onnx")
    code = main(["models", "quantize", str(model), "--calibration", str(tmp_path), "--out", str(tmp_path / "q.onnx")])
    assert code == 1
    assert "pass --labels" in capsys.readouterr().err


def test_calibration_and_held_out_frames_never_overlap() -> None:
    """Both sets are spread over the whole footage and share no frame; short footage gives fewer."""
    picks = pick(795, 200, 50)
    assert (len(picks.calibration), len(picks.held_out)) == (200, 50)
    assert not set(picks.calibration) & set(picks.held_out)
    assert min(picks.held_out) < 100
    assert max(picks.held_out) > 700
    short = pick(30, 200, 50)
    assert len(short.calibration) + len(short.held_out) == 30
    assert not set(short.calibration) & set(short.held_out)


def det(label: str, x: float, score: float = 0.9) -> Detection:
    return Detection(label, 0, score, BBox(x, 0, x + 10, 10))


def test_agreement_is_recall_of_the_reference_per_label() -> None:
    """A reference box is matched by one box of the same label at IoU >= 0.5, each used once."""
    reference = [(det("person", 0), det("person", 50), det("car", 100)), (det("person", 0),)]
    other = [(det("person", 1), det("car", 50), det("car", 100)), ()]
    rows = agreement(reference, other)
    assert rows == (LabelAgreement("person", 3, 1), LabelAgreement("car", 1, 1))
    assert overall(rows).recall == pytest.approx(0.5)
    assert np.isclose(LabelAgreement("none", 0, 0).recall, 1.0)


def test_calibration_on_too_many_frames_is_refused_naming_the_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """onnxruntime holds every frame's activations: 200 frames exits 1 before reading any, saying why."""
    model = str(assets.model(onnx_models.YOLOX_MODEL))
    video = str(assets.video(assets.PEDESTRIANS))
    code = main(
        ["models", "quantize", model, "--calibration", video, "--out", str(tmp_path / "q.onnx"), "--frames", "200"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "--frames 200: onnxruntime's calibration holds every frame's activations" in err
    assert "at most 100 frames" in err
    assert not (tmp_path / "q.onnx").exists()
