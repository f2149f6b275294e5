"""The frozen feature backbone of the second-stage classifiers: finds the embedding extractor through the
model directory or mirror (like every model) and turns one BGR crop into an L2-normalised feature vector.

One Backbone owns one model runner, so it belongs to one thread (the one that calls features())."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from agent.catalog.resolve import MIRROR_ENV, file_sha256
from agent.config.schema import Delegate
from agent.detect.runner import ModelRunner, open_runner
from agent.errors import ModelError, RecognitionError

MODEL_DIR_ENV = "EDGE_AGENT_MODEL_DIR"
DEFAULT_BACKBONE = "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"
# Pinned like a catalogue entry: Coral test_data commit 104342d2 (Apache-2.0), see the assets README.
KNOWN_SHA256 = {DEFAULT_BACKBONE: "f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319"}

EDGETPU_SUFFIX = "_edgetpu"

Features = npt.NDArray[np.float32]


def search_dirs(model_dir: Path | None, mirror: Path | None) -> tuple[Path, ...]:
    """Where a backbone named by file name is looked for: model_dir (default $EDGE_AGENT_MODEL_DIR), then
    the mirror (default $EDGE_AGENT_MODEL_MIRROR), then ./state/models."""
    dirs: list[Path] = []
    for given, env in ((model_dir, MODEL_DIR_ENV), (mirror, MIRROR_ENV)):
        text = str(given) if given is not None else os.environ.get(env, "")
        if text:
            dirs.append(Path(text))
    dirs.append(Path("state/models"))
    return tuple(dirs)


def resolve_backbone(name: str | Path | None, model_dir: Path | None = None, mirror: Path | None = None) -> Path:
    """The backbone file: `name` when it is an existing path, else <dir>/<name> for the first search dir
    holding it. `None` means the default embedding extractor. RecognitionError lists what was tried."""
    wanted = Path(name) if name is not None else Path(DEFAULT_BACKBONE)
    if wanted.is_file():
        return wanted
    tried = [wanted]
    for directory in search_dirs(model_dir, mirror):
        candidate = directory / wanted.name
        if candidate.is_file():
            return candidate
        tried.append(candidate)
    raise RecognitionError(
        f"backbone {wanted.name} not found (tried {', '.join(str(t) for t in tried)}); put it in the model "
        f"directory (--model-dir or ${MODEL_DIR_ENV}) or the mirror (${MIRROR_ENV}), or pass --backbone PATH"
    )


class Backbone:
    """The embedding extractor on one thread: features(crop) -> L2-normalised float32 vector."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        if path.stem.endswith(EDGETPU_SUFFIX):
            raise RecognitionError(
                f"backbone {path} is an Edge TPU build; classifiers run the backbone on the CPU: use "
                f"{path.name.replace(EDGETPU_SUFFIX, '')} (the same network compiled for the CPU)"
            )
        self.path: Path = path
        self.sha256: str = file_sha256(path)
        known = KNOWN_SHA256.get(path.name)
        if known is not None and known != self.sha256:
            raise RecognitionError(
                f"backbone {path} is not the known {path.name} (sha256 {self.sha256}, expected {known}): "
                "it is corrupt or another model under that name"
            )
        try:
            self._runner: ModelRunner = open_runner(path, threads, Delegate.CPU)
        except ModelError as exc:
            raise RecognitionError(f"cannot load backbone {path}: {exc}") from exc
        if len(self._runner.inputs) != 1 or len(self._runner.outputs) != 1:
            raise RecognitionError(f"backbone {path} must have one input and one output tensor")
        tensor = self._runner.inputs[0]
        if len(tensor.shape) != 4 or tensor.shape[3] != 3 or tensor.dtype != np.uint8:
            raise RecognitionError(f"backbone {path} input is {tensor.shape} {tensor.dtype}; need [1,H,W,3] uint8 RGB")
        self.input_size: tuple[int, int] = (int(tensor.shape[2]), int(tensor.shape[1]))  # width, height
        output = self._runner.outputs[0]
        self.feature_count: int = output.size
        self._out_scale = output.scale if output.scale > 0 else 1.0
        self._out_zero = output.zero_point
        self._input = np.zeros(tensor.shape, dtype=np.uint8)

    def features(self, image_bgr: npt.NDArray[np.uint8]) -> Features:
        """One crop (uint8 BGR HxWx3, any size) -> its L2-normalised features (stretched to the input size)."""
        check_image(image_bgr)
        resized = cv2.resize(image_bgr, self.input_size, interpolation=cv2.INTER_AREA)
        cv2.cvtColor(resized, cv2.COLOR_BGR2RGB, dst=self._input[0])
        (raw,) = self._runner.run([self._input])
        vector = (raw.reshape(-1).astype(np.float32) - self._out_zero) * self._out_scale
        return normalise(vector)

    def invoke_only(self) -> None:
        """The bare backbone invoke on the last input: the reference the classify benchmark divides by."""
        self._runner.run_again()


def normalise(vector: Features) -> Features:
    """L2-normalise (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def check_image(image: npt.NDArray[np.uint8]) -> None:
    """A crop must be uint8 HxWx3 with both sides at least 1 pixel; ValueError otherwise."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"a crop must be a uint8 BGR HxWx3 array, got {image.dtype} {image.shape}")
