"""check-config and start-up against the outside world, through the real CLI (`python -m agent`):
labels checked against the real model's label file, file sources against the disk, did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import edge_agent
from tests.support import assets

pytestmark = pytest.mark.integration


def write(tmp_path: Path, camera_yaml: str, labels: Path | None = None) -> Path:
    """A config using the real SSD model and labels, one camera `front` reading a real video."""
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"device_id: dev1\nmodel:\n  path: {assets.model(assets.SSD_MODEL)}\n"
        f"  labels: {labels or assets.model(assets.SSD_LABELS)}\n"
        f"cameras:\n  front:\n    source: {assets.video(assets.PEDESTRIANS)}\n{camera_yaml}"
    )
    return path


def test_workable_config_is_ok(tmp_path: Path) -> None:
    """Real labels and an existing video: exit 0, no warning."""
    path = write(tmp_path, "    objects: [person, car]\n")
    result = edge_agent("check-config", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("OK: 1 camera, model ")


def test_unknown_labels_and_missing_video_are_errors(tmp_path: Path) -> None:
    """Every unworkable field is one `file:line: field: message` line, in file order, exit 2."""
    camera = (
        "    objects: [persn]\n    zones:\n      door:\n        points: [[0, 0], [1, 0], [1, 1]]\n"
        "        objects: [bycicle]\n  back:\n    source: missing.mp4\n"
    )
    path = write(tmp_path, camera)
    result = edge_agent("check-config", str(path))
    labels = assets.model(assets.SSD_LABELS)
    model = assets.model(assets.SSD_MODEL)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:8: cameras.front.objects.0: 'persn' is not a label of model {model} ({labels}) "
        "(did you mean 'person'?)",
        f"{path}:12: cameras.front.zones.door.objects.0: 'bycicle' is not a label of model {model} ({labels}) "
        "(did you mean 'bicycle'?)",
        f"{path}:14: cameras.back.source: video file {tmp_path}/missing.mp4 does not exist",
    ]


def test_typo_key_says_did_you_mean(tmp_path: Path) -> None:
    """An unknown key names the field it is probably a typo of."""
    path = write(tmp_path, "    detect_fsp: 3\n")
    result = edge_agent("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:8: cameras.front.detect_fsp: Extra inputs are not permitted (did you mean 'detect_fps'?)"
    ]


def test_missing_label_file_is_an_error(tmp_path: Path) -> None:
    """A model.labels that does not exist is an error at that field, not a traceback."""
    path = write(tmp_path, "", labels=tmp_path / "none.txt")
    result = edge_agent("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:4: model.labels: labels not checked: label file {tmp_path}/none.txt does not exist "
        "(model.labels in the config)"
    ]


def test_run_fails_fast_with_the_same_lines(tmp_path: Path) -> None:
    """`run` refuses the same config before starting anything, printing the check-config lines."""
    path = write(tmp_path, "    objects: [persn]\n")
    checked = edge_agent("check-config", str(path))
    run = edge_agent("run", "--config", str(path))
    assert run.returncode == checked.returncode == 2
    assert run.stderr == checked.stderr
    assert "did you mean 'person'?" in run.stderr
