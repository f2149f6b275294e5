"""Runtime selection and model loading (agent.detect.runtime): preference order, the env override,
what a missing runtime, a missing Edge TPU library and a bad model file each report."""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from agent.config.schema import Delegate, ModelConfig
from agent.detect import ModelDetector
from agent.detect.runtime import CANDIDATES, EDGETPU_LIBRARY, RUNTIME_ENV, open_interpreter, select_runtime
from agent.errors import ModelError
from tests.support import assets


def installed() -> list[str]:
    """Short names of the runtimes importable in this venv, in preference order."""
    return [c.name for c in CANDIDATES if importlib.util.find_spec(c.module.split(".")[0]) is not None]


@pytest.mark.runtime_compat
def test_default_is_first_installed_runtime() -> None:
    """Without the override the first importable of litert, tflite_runtime, tensorflow is used."""
    available = installed()
    assert available, "no TFLite runtime installed in this venv"
    runtime = select_runtime(env={})
    assert runtime.name == available[0]
    assert runtime.version
    assert runtime.version != "unknown"


@pytest.mark.runtime_compat
@pytest.mark.parametrize("name", [c.name for c in CANDIDATES])
def test_env_override_picks_that_runtime(name: str) -> None:
    """EDGE_AGENT_TFLITE_RUNTIME=name selects that runtime, or says which package to pip install."""
    if name in installed():
        assert select_runtime(env={RUNTIME_ENV: name}).name == name
    else:
        package = next(c.package for c in CANDIDATES if c.name == name)
        with pytest.raises(ModelError, match=f"pip install {package}"):
            select_runtime(env={RUNTIME_ENV: name})


def test_env_override_rejects_unknown_name() -> None:
    """An unknown runtime name is refused with the list of valid names."""
    with pytest.raises(ModelError, match="litert, tflite_runtime, tensorflow"):
        select_runtime(env={RUNTIME_ENV: "onnx"})


@pytest.mark.runtime_compat
def test_no_runtime_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no runtime importable, the error says to pip install ai-edge-litert (or the alternatives)."""
    for candidate in CANDIDATES:
        # A None entry in sys.modules makes `import` raise ImportError, as for an absent package.
        monkeypatch.setitem(sys.modules, candidate.module, None)
        monkeypatch.setitem(sys.modules, candidate.module.split(".")[0], None)
    with pytest.raises(ModelError, match="pip install ai-edge-litert") as caught:
        select_runtime(env={})
    assert "tflite-runtime" in str(caught.value)


@pytest.mark.runtime_compat
def test_detector_reports_the_runtime_used() -> None:
    """The detector exposes the runtime it loaded: the env override's when set (the compat CI job sets it)."""
    detector = ModelDetector(
        assets.model(assets.SSD_MODEL), assets.model(assets.SSD_LABELS), ModelConfig(path=assets.SSD_MODEL)
    )
    expected = os.environ.get(RUNTIME_ENV) or installed()[0]
    assert detector.runtime_name == expected
    assert detector.runtime_version == select_runtime().version


@pytest.mark.runtime_compat
def test_edgetpu_delegate_missing_is_actionable() -> None:
    """delegate: edgetpu without libedgetpu.so.1 fails at load with how to install it or fall back to cpu."""
    if ctypes.util.find_library("edgetpu") is not None:
        pytest.skip("libedgetpu is installed here; the missing-library path cannot be exercised")
    cfg = ModelConfig(path=assets.SSD_MODEL, delegate=Delegate.EDGETPU)
    with pytest.raises(ModelError) as caught:
        ModelDetector(assets.model(assets.SSD_MODEL), assets.model(assets.SSD_LABELS), cfg)
    message = str(caught.value)
    assert f"Coral Edge TPU runtime {EDGETPU_LIBRARY} not found" in message
    assert "libedgetpu1-std" in message
    assert "model.delegate: cpu" in message
    assert caught.value.__cause__ is not None


@pytest.mark.runtime_compat
def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    """A model path that does not exist is reported with that path."""
    missing = tmp_path / "nope.tflite"
    with pytest.raises(ModelError, match="model file not found") as caught:
        ModelDetector(missing, assets.model(assets.SSD_LABELS), ModelConfig(path=str(missing)))
    assert str(missing) in str(caught.value)


@pytest.mark.runtime_compat
@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 40, bytes(range(256)) * 8])
def test_garbage_model_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    """A file that is not a TFLite flatbuffer raises ModelError naming the file, chained to the runtime's error."""
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match="cannot load TFLite model") as caught:
        open_interpreter(select_runtime(), bad, 1, Delegate.CPU)
    assert str(bad) in str(caught.value)
    assert caught.value.__cause__ is not None
