"""OrtRunner: the ModelRunner of .onnx files, on ONNX Runtime's CPU execution provider.

The only module that imports onnxruntime (an optional extra: pip install '.[onnx]'). Built once at
start-up by whichever thread builds the model; afterwards one thread runs it (session.run releases
the GIL, so the agent's other threads keep working while it runs)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.detect.runner import TensorInfo
from agent.errors import ModelError

RUNTIME_NAME = "onnxruntime"
INSTALL_HINT = "pip install 'edge-vision-agent[onnx]' (or pip install onnxruntime)"
PROVIDER = "CPUExecutionProvider"
LOG_ERRORS_ONLY = 3
SPINNING_KEY = "session.intra_op.allow_spinning"
# ONNX type strings -> numpy dtypes the agent can feed or read.
DTYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
}


def import_onnxruntime() -> Any:
    """The onnxruntime module, or a ModelError saying what to install."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise ModelError(f"an .onnx model needs ONNX Runtime, which is not installed ({exc}); {INSTALL_HINT}") from exc


def _tensor_info(position: int, node: Any, model_path: Path, fixed: bool) -> TensorInfo:
    """A session input/output as a TensorInfo. A symbolic leading dim (batch) counts as 1. Inputs need
    every other dim fixed (the agent sizes its buffers once); an output's symbolic dims (the K of an
    end-to-end model's detections) are -1."""
    dims = [d if isinstance(d, int) and d > 0 else -1 for d in node.shape]
    if dims and dims[0] == -1:
        dims[0] = 1
    if fixed and -1 in dims:
        raise ModelError(
            f"model {model_path} input {node.name!r} has shape {list(node.shape)}; the agent needs a fixed size "
            "(export the model with a fixed input size, e.g. ultralytics `dynamic=False`)"
        )
    dtype = DTYPES.get(node.type)
    if dtype is None:
        raise ModelError(f"model {model_path} tensor {node.name!r} is {node.type}; supported: {', '.join(DTYPES)}")
    return TensorInfo(position, str(node.name), tuple(dims), dtype, 0.0, 0)


class OrtRunner:
    """An .onnx model on ONNX Runtime with `threads` intra-op threads (the calling thread is one of them).

    inter-op parallelism is off (one inter-op thread, sequential execution): the detector graphs are a
    chain, and every extra pool thread competes with capture, analytics and publishing for the cores.
    `spinning` False stops the intra-op pool's threads from busy-waiting for work between runs and
    between the graph's nodes (ORT's default spins); docs/performance.md has the measurement."""

    def __init__(self, model_path: Path, threads: int, spinning: bool = False) -> None:
        if not model_path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        ort = import_onnxruntime()
        self.runtime_name: str = RUNTIME_NAME
        self.runtime_version: str = str(ort.__version__)
        self.threads: int = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = LOG_ERRORS_ONLY
        options.add_session_config_entry(SPINNING_KEY, "1" if spinning else "0")
        try:
            self._session = ort.InferenceSession(str(model_path), sess_options=options, providers=[PROVIDER])
        except Exception as exc:  # ORT raises its own pybind exception types (InvalidGraph, Fail, ...)
            raise ModelError(f"cannot load ONNX model {model_path} with onnxruntime {ort.__version__}: {exc}") from exc
        self.inputs: tuple[TensorInfo, ...] = tuple(
            _tensor_info(i, node, model_path, fixed=True) for i, node in enumerate(self._session.get_inputs())
        )
        self.outputs: tuple[TensorInfo, ...] = tuple(
            _tensor_info(i, node, model_path, fixed=False) for i, node in enumerate(self._session.get_outputs())
        )
        self._output_names = [o.name for o in self.outputs]
        self._feed: dict[str, npt.NDArray[Any]] = {}

    def run(self, inputs: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], ...]:
        # ORT reads the arrays during run() and returns newly allocated outputs; no copies needed here.
        self._feed = {info.name: array for info, array in zip(self.inputs, inputs, strict=True)}
        return tuple(self._session.run(self._output_names, self._feed))

    def run_again(self) -> None:
        self._session.run(self._output_names, self._feed)

    def all_tensors(self) -> tuple[TensorInfo, ...]:
        return self.inputs + self.outputs
