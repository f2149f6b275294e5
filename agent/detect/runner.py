"""The model-runner interface every model the agent runs sits on (the detector, an embedding backbone, a
re-identification model), and the choice of runtime by file extension: .tflite -> TFLite (runtime.py),
.onnx -> ONNX Runtime (ort_runtime.py). Called once at start-up by whichever thread builds the model;
the runner it returns then belongs to one thread (not thread-safe; run() releases the GIL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from agent.config.schema import Delegate
from agent.errors import ModelError

TFLITE_SUFFIX = ".tflite"
ONNX_SUFFIX = ".onnx"
MODEL_SUFFIXES = (TFLITE_SUFFIX, ONNX_SUFFIX)


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One input or output tensor of a loaded model.

    `index` is what identifies the tensor to its runner: the TFLite tensor index, or the position in
    the ONNX graph's inputs / outputs. `scale` 0 means not quantized (every ONNX model input and output:
    QDQ models quantize inside the graph)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


class ModelRunner(Protocol):
    """One loaded model on one runtime: its tensors, and run(inputs) -> outputs."""

    runtime_name: str  # litert | tflite_runtime | tensorflow | onnxruntime
    runtime_version: str
    threads: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def run(self, inputs: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], ...]:
        """Copy `inputs` (in `self.inputs` order) in, run the model, return copies of the outputs in
        `self.outputs` order: they stay valid after later runs."""
        ...

    def run_again(self) -> None:
        """Run once more on the inputs of the last run, outputs discarded: the bare invoke that the
        benchmarks compare the pipeline against."""
        ...

    def all_tensors(self) -> tuple[TensorInfo, ...]:
        """Every tensor the runtime shows: TFLite shows intermediate tensors, ONNX Runtime only the inputs
        and outputs. Used once at load (the SSD class count)."""
        ...


def open_runner(
    model_path: Path, threads: int, delegate: Delegate = Delegate.CPU, edgetpu_device: str | None = None
) -> ModelRunner:
    """Load `model_path` with the runtime its extension names, with `threads` CPU threads."""
    suffix = model_path.suffix.lower()
    if suffix == ONNX_SUFFIX:
        if delegate is not Delegate.CPU:
            raise ModelError(f"model.delegate {delegate.value} needs a .tflite model; {model_path} is ONNX (cpu only)")
        from agent.detect.ort_runtime import OrtRunner  # lazy: onnxruntime is an optional extra

        return OrtRunner(model_path, threads)
    if suffix == TFLITE_SUFFIX:
        from agent.detect.runtime import TFLiteRunner

        return TFLiteRunner(model_path, threads, delegate, edgetpu_device)
    raise ModelError(
        f"model file {model_path} is neither {' nor '.join(MODEL_SUFFIXES)}; the runtime is chosen by extension"
    )
