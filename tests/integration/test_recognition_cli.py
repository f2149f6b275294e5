"""`edge-agent train` and `classify` as real subprocesses on ImageFolder dirs cut from the hand-labelled
crops of the shared videos (tests/data/recognition), with the real backbone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support import assets
from tests.support.recognition_data import (
    PEDESTRIANS,
    TRAFFIC,
    crops_of,
    object_labels,
    state_labels,
    write_image_folder,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 240
LAST_LINE = re.compile(r"^accuracy=(\d\.\d{4}) classes=(\d+) n_train=(\d+) n_val=(\d+)$")


def edge_agent(*args: str, model_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m agent ARGS` with only `model_dir` as the model directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_AGENT_")}
    env["PYTHONPATH"] = str(REPO)
    if model_dir is not None:
        env["EDGE_AGENT_MODEL_DIR"] = str(model_dir)
    return subprocess.run(
        [sys.executable, "-m", "agent", *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )


@pytest.fixture(scope="module")
def models() -> Path:
    return assets.model(assets.SSD_MODEL).parent


@pytest.fixture(scope="module")
def car_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    video = assets.video(TRAFFIC)
    return write_image_folder(tmp_path_factory.mktemp("cars"), crops_of(video, object_labels()))


@pytest.fixture(scope="module")
def trained(car_folder: Path, models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("model") / "cars.clf"
    result = edge_agent(
        "train", "--data", str(car_folder), "--out", str(out), "--augment", "1", "--compare-baselines",
        model_dir=models,
    )
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_train_prints_the_summary_line_last(trained: tuple[Path, str]) -> None:
    """The last stdout line is accuracy/classes/n_train/n_val, and the backbone head beats a loose bound."""
    _, stdout = trained
    match = LAST_LINE.match(stdout.strip().splitlines()[-1])
    assert match is not None, stdout
    accuracy, classes, n_train, n_val = float(match[1]), int(match[2]), int(match[3]), int(match[4])
    assert classes == 3
    assert n_train + n_val == len(object_labels())
    assert accuracy >= 0.8


def test_compare_baselines_prints_both(trained: tuple[Path, str]) -> None:
    """--compare-baselines reports the backbone head and HOG + linear SVM on the same split."""
    _, stdout = trained
    assert re.search(r"^backbone\+logistic: accuracy=\d\.\d{4}", stdout, re.MULTILINE)
    assert re.search(r"^hog\+linear_svm: accuracy=\d\.\d{4}", stdout, re.MULTILINE)


def test_classify_prints_path_label_score(trained: tuple[Path, str], car_folder: Path, models: Path) -> None:
    """One tab-separated line per image; most light and coloured cars come out as their class."""
    model, _ = trained
    images = sorted((car_folder / "light").iterdir())[:5] + sorted((car_folder / "coloured").iterdir())[:5]
    result = edge_agent("classify", "--model", str(model), *map(str, images), model_dir=models)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(images)
    rows = [line.split("\t") for line in lines]
    assert [Path(r[0]) for r in rows] == images
    assert all(0.0 < float(r[2]) <= 1.0 for r in rows)
    correct = sum(r[1] == Path(r[0]).parent.name for r in rows)
    assert correct >= 8  # mostly training images: a head that learned nothing would get ~3


def test_state_task_trains(tmp_path: Path, models: Path) -> None:
    """The walkway occupied/empty task trains to high validation accuracy without augmentation."""
    folder = write_image_folder(tmp_path / "walkway", crops_of(assets.video(PEDESTRIANS), state_labels()))
    result = edge_agent("train", "--data", str(folder), "--out", str(tmp_path / "w.clf"), "--augment", "0",
                        model_dir=models)
    assert result.returncode == 0, result.stderr
    match = LAST_LINE.match(result.stdout.strip().splitlines()[-1])
    assert match is not None
    assert match[2] == "2"
    assert float(match[1]) >= 0.9


def test_empty_directory_exits_2(tmp_path: Path, models: Path) -> None:
    """An empty data dir: exit 2, the message names it."""
    result = edge_agent("train", "--data", str(tmp_path), "--out", str(tmp_path / "x.clf"), model_dir=models)
    assert result.returncode == 2
    assert f"{tmp_path} is empty" in result.stderr


def test_single_class_exits_2(tmp_path: Path, car_folder: Path, models: Path) -> None:
    """One class folder only: exit 2."""
    (tmp_path / "data" / "light").mkdir(parents=True)
    for image in sorted((car_folder / "light").iterdir())[:3]:
        (tmp_path / "data" / "light" / image.name).write_bytes(image.read_bytes())
    result = edge_agent("train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "x.clf"), model_dir=models)
    assert result.returncode == 2
    assert "single class (light)" in result.stderr


def test_unreadable_image_exits_2_naming_it(tmp_path: Path, models: Path) -> None:
    """A truncated image in a class folder: exit 2 naming the file, no model written."""
    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "data" / name / f"{i}.png"), np.full((40, 40, 3), 60 * i, np.uint8))
    (tmp_path / "data" / "b" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = edge_agent("train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "x.clf"), model_dir=models)
    assert result.returncode == 2
    assert "cut.jpg: unreadable image" in result.stderr
    assert not (tmp_path / "x.clf").exists()


def test_non_image_to_classify_exits_2(trained: tuple[Path, str], car_folder: Path, models: Path, tmp_path: Path) -> None:
    """classify still prints the good images, names the bad file on stderr, and exits 2."""
    model, _ = trained
    good = sorted((car_folder / "dark").iterdir())[0]
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    result = edge_agent("classify", "--model", str(model), str(good), str(bad), model_dir=models)
    assert result.returncode == 2
    assert result.stdout.startswith(f"{good}\t")
    assert "notes.txt: unreadable image" in result.stderr


def test_model_from_another_backbone_exits_2(trained: tuple[Path, str], car_folder: Path, models: Path) -> None:
    """Classifying with another backbone than the one trained on: exit 2, naming the model and retrain."""
    model, _ = trained
    other = models / "mobilenet_v2_1.0_224_quant.tflite"
    image = sorted((car_folder / "dark").iterdir())[0]
    result = edge_agent("classify", "--model", str(model), "--backbone", str(other), str(image), model_dir=models)
    assert result.returncode == 2
    assert f"classifier {model} was trained on backbone mobilenet_v1" in result.stderr
    assert "retrain" in result.stderr
