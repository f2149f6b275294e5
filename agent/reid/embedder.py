"""Embeds object crops of a frame with a re-identification model (OSNet): the I/O edge behind
`Embedder`, whose vectors the pure tracker receives as data.

Built at camera start-up (main or config thread); afterwards only the analytics thread calls it,
one batched model run per frame that needs embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from agent.detect.runner import ModelRunner, open_runner
from agent.errors import ModelError
from agent.types import BBox, Embedding, Image

# torchreid's normalisation of RGB in [0, 1] (ImageNet mean and std), as the OSNet weights were trained.
MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)
NCHW_RANK = 4
RGB_CHANNELS = 3
MIN_CROP_PX = 2


class Embedder(Protocol):
    """Appearance vectors of boxes in one frame."""

    def embed(self, image: Image, boxes: Sequence[BBox]) -> list[Embedding]:
        """One L2-normalised vector per box of `image` (BGR uint8), in `boxes` order."""
        ...


class CropEmbedder:
    """A float NCHW re-id model [N,3,H,W] -> [N,D] on crops stretched to H x W (OSNet: 256 x 128)."""

    def __init__(self, runner: ModelRunner, model_path: Path) -> None:
        shape = runner.inputs[0].shape if runner.inputs else ()
        if len(shape) != NCHW_RANK or shape[1] != RGB_CHANNELS or len(runner.outputs) != 1:
            raise ModelError(
                f"re-id model {model_path} has input {list(shape)} and {len(runner.outputs)} output(s); "
                "expected one float [N,3,H,W] input and one [N,D] embedding output (e.g. osnet_x0_25_msmt17.onnx)"
            )
        if runner.inputs[0].dtype != np.float32:
            raise ModelError(f"re-id model {model_path} input is {runner.inputs[0].dtype}; expected float32")
        self._runner = runner
        self.input_hw: tuple[int, int] = (int(shape[2]), int(shape[3]))
        self.runs = 0
        self.crops = 0

    def embed(self, image: Image, boxes: Sequence[BBox]) -> list[Embedding]:
        if not boxes:
            return []
        batch = np.stack([self._crop(image, box) for box in boxes])
        (vectors,) = self._runner.run([batch])
        self.runs += 1
        self.crops += len(boxes)
        flat = np.asarray(vectors, dtype=np.float32).reshape(len(boxes), -1)
        norms = np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
        unit: npt.NDArray[np.float32] = (flat / norms).astype(np.float32)
        return list(unit)

    def _crop(self, image: Image, box: BBox) -> npt.NDArray[np.float32]:
        h_img, w_img = image.shape[:2]
        c = box.clipped(w_img, h_img)
        x1, y1 = int(c.x1), int(c.y1)
        x2, y2 = max(round(c.x2), x1 + MIN_CROP_PX), max(round(c.y2), y1 + MIN_CROP_PX)
        crop = image[y1:y2, x1:x2]
        if crop.size == 0:  # a box wholly outside the frame: a grey crop, far from any person
            crop = np.full((MIN_CROP_PX, MIN_CROP_PX, 3), 114, dtype=np.uint8)
        height, width = self.input_hw
        resized = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
        rgb = resized[:, :, ::-1].astype(np.float32) / 255.0
        normalised = (rgb - MEAN_RGB) / STD_RGB
        out: npt.NDArray[np.float32] = np.ascontiguousarray(normalised.transpose(2, 0, 1))
        return out


def open_embedder(model_path: Path, threads: int) -> CropEmbedder:
    """Load the re-id model with the runtime its extension names (agent.detect.runner)."""
    return CropEmbedder(open_runner(model_path, threads), model_path)
