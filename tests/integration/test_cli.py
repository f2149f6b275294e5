"""The `edge-agent` command line, run as a real subprocess (`python -m agent`)."""

from __future__ import annotations

import hashlib
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import assets
from tests.support.http_files import serve_directory

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
GOOD = (
    "device_id: dev1\nmodel_dir: models\nmodel:\n  path: yolov8n_int8_416\ncameras:\n  front: {source: /dev/video0}\n"
)
PAYLOAD = b"not really a model " * 20_000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def agent_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the caller's model env overrides, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_AGENT_")}
    clean["PYTHONPATH"] = str(REPO)
    return {**clean, **(env or {})}


def edge_agent(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m agent ARGS` without the caller's model env overrides."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env=agent_env(env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_check_config_ok(tmp_path: Path) -> None:
    """A valid config exits 0 and prints a one-line summary."""
    (tmp_path / "agent.yaml").write_text(GOOD)
    result = edge_agent("check-config", str(tmp_path / "agent.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "OK: 1 camera, model yolov8n_int8_416\n"


def test_check_config_lists_every_error(tmp_path: Path) -> None:
    """An invalid config exits 2 with one `file:line: field: message` line per error, in file order."""
    path = tmp_path / "agent.yaml"
    path.write_text(GOOD + "    detect_fps: -1\nmqtt:\n  port: 0\n  colour: red\n")
    path.write_text(path.read_text().replace("front: {source: /dev/video0}", "front:\n    source: /dev/video0"))
    result = edge_agent("check-config", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:8: cameras.front.detect_fps: Input should be greater than 0",
        f"{path}:10: mqtt.port: Input should be greater than or equal to 1",
        f"{path}:11: mqtt.colour: Extra inputs are not permitted",
    ]


def test_check_config_missing_file(tmp_path: Path) -> None:
    """A config that cannot be read exits 2 naming it."""
    result = edge_agent("check-config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml: cannot read config" in result.stderr


def test_check_config_yaml_error(tmp_path: Path) -> None:
    """A YAML syntax error exits 2 with its line."""
    path = tmp_path / "agent.yaml"
    path.write_text("device_id: a\nmodel:\n\tpath: x\n")
    result = edge_agent("check-config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:3: invalid YAML")


def test_models_list() -> None:
    """The catalogue table lists each model with kind, input size, labels and whether its digest is pinned."""
    result = edge_agent("models", "list")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()}
    assert rows["NAME"][:5] == ["NAME", "KIND", "INPUT", "LABELS", "VERIFIED-SHA256"]
    assert rows["yolov8n_int8_416"][1:5] == ["yolo", "416x416", "coco80.labels.txt", "yes"]
    assert rows["efficientdet_lite0"][4] == "no"


def test_pull_from_mirror_into_config_model_dir(tmp_path: Path) -> None:
    """`models pull --config` installs into the config's model_dir from $EDGE_AGENT_MODEL_MIRROR."""
    (tmp_path / "agent.yaml").write_text(GOOD)
    mirror = assets.model(assets.YOLO416_MODEL).parent
    result = edge_agent(
        "models", "pull", "yolov8n_int8_416", "--config", str(tmp_path / "agent.yaml"),
        env={"EDGE_AGENT_MODEL_MIRROR": str(mirror)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "models" / assets.YOLO416_MODEL
    assert installed.read_bytes() == (mirror / assets.YOLO416_MODEL).read_bytes()
    assert (tmp_path / "models" / "coco80.labels.txt").is_file()
    assert "verified" in result.stdout
    size_mib = installed.stat().st_size / 2**20
    progress = [f"yolov8n_int8_416: fetching ({size_mib:.1f} MiB)", f"yolov8n_int8_416: fetched {size_mib:.1f} MiB"]
    assert result.stderr.splitlines() == progress  # not a terminal: a line at the start and one at the end


def write_catalog(directory: Path, url: str, sha256: str | None) -> Path:
    directory.mkdir()
    (directory / "x.labels.txt").write_text("person\n")
    digest = sha256 if sha256 else "null"
    (directory / "catalog.yaml").write_text(
        "models:\n  - {name: demo_model, url: '" + url + "', archive_member: detect.tflite, file: demo.tflite,\n"
        f"     sha256: {digest}, labels: x.labels.txt, kind: ssd, input_size: 300}}\n"
    )
    return directory


@pytest.fixture
def www(tmp_path: Path) -> Path:
    """A served directory holding model.zip, whose detect.tflite member is PAYLOAD."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "model.zip", "w") as archive:
        archive.writestr("detect.tflite", PAYLOAD)
    return root


def edge_agent_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run `python -m agent ARGS` with stderr on a pseudo-terminal; return the exit code and what it showed."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", *args], cwd=REPO, env=agent_env(), stdout=subprocess.DEVNULL, stderr=terminal
    )
    os.close(terminal)
    shown = bytearray()
    try:
        while chunk := os.read(controller, 4096):  # read while it runs: a full terminal buffer would block it
            shown += chunk
    except OSError:  # EIO: the process has closed its end of the terminal
        pass
    finally:
        os.close(controller)
    return proc.wait(TIMEOUT_S), shown.decode("utf-8", "replace")


def test_pull_over_http_with_progress(tmp_path: Path, www: Path) -> None:
    """A real HTTP download of a zipped model is unpacked, verified and installed; its progress is two
    plain lines (no carriage returns) when stderr is not a terminal."""
    with serve_directory(www) as base:
        catalog = write_catalog(tmp_path / "cat", f"{base}/model.zip", PAYLOAD_SHA)
        result = edge_agent("models", "pull", "demo_model", "--catalog", str(catalog), "--dest", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "demo.tflite").read_bytes() == PAYLOAD
    assert "\r" not in result.stderr
    size_mib = (www / "model.zip").stat().st_size / 2**20
    assert result.stderr.splitlines() == [
        f"demo_model: fetching ({size_mib:.1f} MiB)",
        f"demo_model: fetched {size_mib:.1f} MiB",
    ]


def test_pull_draws_a_bar_on_a_terminal(tmp_path: Path, www: Path) -> None:
    """With stderr on a terminal the download's bar is redrawn in place up to 100% and ends its line."""
    with serve_directory(www) as base:
        catalog = write_catalog(tmp_path / "cat", f"{base}/model.zip", PAYLOAD_SHA)
        code, shown = edge_agent_on_a_terminal(
            "models", "pull", "demo_model", "--catalog", str(catalog), "--dest", str(tmp_path / "d")
        )
    assert code == 0, shown
    assert "\rdemo_model [##############################] 100%" in shown
    assert shown.count("\rdemo_model [") > 1
    assert "fetching" not in shown


def test_pull_names_a_missing_mirror_file_once(tmp_path: Path) -> None:
    """A mirror without the model names each file name it looked for once, even when the URL's is the same."""
    (tmp_path / "mirror").mkdir()
    args = ("models", "pull", "--dest", str(tmp_path / "d"), "--mirror", str(tmp_path / "mirror"))
    same = edge_agent(*args, "ssd_mobilenet_v2_coco_quant", "--allow-unverified")
    different = edge_agent(*args, "ssd_mobilenet_v1_coco_uint8_300")
    assert same.returncode == different.returncode == 1
    assert f"the mirror {tmp_path / 'mirror'} has no ssd_mobilenet_v2_coco_quant_postprocess.tflite\n" in same.stderr
    assert "has neither ssd_mobilenet_v1_coco_uint8_300.tflite nor coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.zip" in (
        different.stderr
    )


def test_pull_checksum_mismatch_exits_1(tmp_path: Path, www: Path) -> None:
    """A digest mismatch exits 1 with one clear line and leaves the destination empty."""
    with serve_directory(www) as base:
        catalog = write_catalog(tmp_path / "cat", f"{base}/model.zip", "f" * 64)
        result = edge_agent("models", "pull", "demo_model", "--catalog", str(catalog), "--dest", str(tmp_path / "d"))
    assert result.returncode == 1
    assert f"checksum mismatch for {base}/model.zip: expected sha256 {'f' * 64}, got {PAYLOAD_SHA}" in result.stderr
    assert list((tmp_path / "d").iterdir()) == []


def test_pull_unverified_prints_digest_to_pin(tmp_path: Path, www: Path) -> None:
    """An entry without a digest needs --allow-unverified and then prints the digest to pin."""
    with serve_directory(www) as base:
        catalog = write_catalog(tmp_path / "cat", f"{base}/model.zip", None)
        args = ("models", "pull", "demo_model", "--catalog", str(catalog), "--dest", str(tmp_path / "d"))
        refused = edge_agent(*args)
        allowed = edge_agent(*args, "--allow-unverified")
    assert refused.returncode == 1
    assert "--allow-unverified" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert f"sha256: {PAYLOAD_SHA}" in allowed.stdout


def test_pull_unknown_name() -> None:
    """An unknown catalogue name exits 1 listing the known ones."""
    result = edge_agent("models", "pull", "resnet9000", "--dest", "/nonexistent")
    assert result.returncode == 1
    assert "unknown model 'resnet9000'" in result.stderr


def test_run_with_invalid_config_exits_2(tmp_path: Path) -> None:
    """`run` refuses an invalid config before starting anything."""
    (tmp_path / "agent.yaml").write_text("device_id: a b\n")
    result = edge_agent("run", "--config", str(tmp_path / "agent.yaml"))
    assert result.returncode == 2
    assert f"{tmp_path / 'agent.yaml'}:1: device_id: String should match pattern" in result.stderr


def test_run_with_missing_model_exits_1_with_pull_command(tmp_path: Path) -> None:
    """`run` with a catalogue model absent from model_dir exits 1 and prints the exact pull command."""
    (tmp_path / "agent.yaml").write_text(GOOD)
    result = edge_agent("run", "--config", str(tmp_path / "agent.yaml"))
    assert result.returncode == 1
    assert f"edge-agent models pull yolov8n_int8_416 --dest {tmp_path / 'models'}" in result.stderr
    assert "--mirror" in result.stderr


def test_version() -> None:
    """`--version` prints the package version."""
    result = edge_agent("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("edge-agent 0.")
