"""Chooses the TFLite runtime (ai-edge-litert, tflite-runtime or tensorflow), opens interpreters and wraps
one in TFLiteRunner (the ModelRunner of .tflite files; ort_runtime.py is the ONNX one).

The only module that imports a TFLite runtime. Called once at start-up, from whichever thread builds
the model; the runner it returns then belongs to one thread."""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from agent.config.schema import Delegate
from agent.detect.model_pages import release_model_pages
from agent.detect.runner import TensorInfo
from agent.errors import ModelError

RUNTIME_ENV = "EDGE_AGENT_TFLITE_RUNTIME"
EDGETPU_LIBRARY = "libedgetpu.so.1"
INSTALL_HINT = "pip install ai-edge-litert (or tflite-runtime==2.14.0 with numpy<2, or tensorflow)"


class Interpreter(Protocol):
    """The part of the TFLite Interpreter API the detector uses; all three runtimes provide it."""

    def allocate_tensors(self) -> None: ...
    def invoke(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def get_tensor_details(self) -> list[dict[str, Any]]: ...
    def get_tensor(self, tensor_index: int) -> npt.NDArray[Any]: ...
    def tensor(self, tensor_index: int) -> Callable[[], npt.NDArray[Any]]: ...


@dataclass(frozen=True, slots=True)
class Runtime:
    """An importable TFLite runtime: its short name (litert | tflite_runtime | tensorflow) and version."""

    name: str
    version: str
    interpreter_class: Callable[..., Interpreter]
    load_delegate: Callable[..., object]  # (library, options=None)


@dataclass(frozen=True, slots=True)
class _Candidate:
    name: str
    module: str
    package: str


# Preference order: the first importable one wins unless RUNTIME_ENV names one.
CANDIDATES = (
    _Candidate("litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    _Candidate("tflite_runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    _Candidate("tensorflow", "tensorflow", "tensorflow"),
)


def _load(candidate: _Candidate) -> Runtime:
    """Import one runtime; raises ImportError when it is not installed."""
    module = importlib.import_module(candidate.module)
    top = importlib.import_module(candidate.module.split(".")[0])
    version = str(getattr(top, "__version__", "unknown"))
    if candidate.name == "tensorflow":
        return Runtime(candidate.name, version, module.lite.Interpreter, module.lite.experimental.load_delegate)
    return Runtime(candidate.name, version, module.Interpreter, module.load_delegate)


def select_runtime(env: Mapping[str, str] | None = None) -> Runtime:
    """The runtime named by EDGE_AGENT_TFLITE_RUNTIME, else the first importable of litert, tflite_runtime,
    tensorflow. Raises ModelError saying what to pip install when none (or not the requested one) imports."""
    environ = os.environ if env is None else env
    wanted = environ.get(RUNTIME_ENV, "").strip()
    if wanted:
        by_name = {c.name: c for c in CANDIDATES}
        if wanted not in by_name:
            raise ModelError(f"{RUNTIME_ENV}={wanted!r} is not a TFLite runtime; use one of {', '.join(by_name)}")
        chosen = by_name[wanted]
        try:
            return _load(chosen)
        except ImportError as exc:
            raise ModelError(
                f"{RUNTIME_ENV}={wanted} but it cannot be imported ({exc}); pip install {chosen.package}"
            ) from exc
    failures: list[str] = []
    for candidate in CANDIDATES:
        try:
            return _load(candidate)
        except ImportError as exc:
            failures.append(f"{candidate.module}: {exc}")
    raise ModelError(f"no TFLite runtime is installed ({'; '.join(failures)}); {INSTALL_HINT}")


def load_edgetpu_delegate(runtime: Runtime, device: str | None = None) -> object:
    """Load the Coral Edge TPU delegate through the runtime, or raise an actionable ModelError.
    `device` is libedgetpu's selector (":0", ":1", "usb:0", "pci:0"); None takes any free one."""
    try:
        # dlopen it first, as load_delegate would: when that fails inside load_delegate, the half-built
        # Delegate object later prints an AttributeError traceback from its __del__ (litert 2.3, tflite 2.14).
        ctypes.CDLL(EDGETPU_LIBRARY)
        return runtime.load_delegate(EDGETPU_LIBRARY, {"device": device} if device else None)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"Coral Edge TPU runtime {EDGETPU_LIBRARY} not found; install libedgetpu1-std (Coral's apt repository) "
            f"and connect the Edge TPU, or set model.delegate: cpu ({exc})"
        ) from exc


def open_interpreter(
    runtime: Runtime, model_path: Path, threads: int, delegate: Delegate, edgetpu_device: str | None = None
) -> Interpreter:
    """Load `model_path` with `threads` CPU threads (and the Edge TPU delegate if asked) and allocate tensors."""
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path}")
    delegates = [load_edgetpu_delegate(runtime, edgetpu_device)] if delegate is Delegate.EDGETPU else None
    try:
        interpreter = runtime.interpreter_class(
            model_path=str(model_path), num_threads=threads, experimental_delegates=delegates
        )
        interpreter.allocate_tensors()
        # allocate_tensors() applied XNNPACK, which copied the weights into its own packed buffers.
        release_model_pages(model_path)
    except SystemError as exc:
        raise ModelError(
            f"{runtime.name} {runtime.version} failed inside the runtime loading {model_path} ({exc}); "
            "tflite-runtime 2.14 needs numpy<2"
        ) from exc
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"cannot load TFLite model {model_path} with {runtime.name}: {exc}") from exc
    return interpreter


def tensor_infos(details: Sequence[Mapping[str, Any]]) -> tuple[TensorInfo, ...]:
    """Convert the runtime's tensor detail dicts into TensorInfo records, in the runtime's order."""
    infos: list[TensorInfo] = []
    for detail in details:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        infos.append(
            TensorInfo(
                index=int(detail["index"]),
                name=str(detail["name"]),
                shape=tuple(int(d) for d in detail["shape"]),
                dtype=np.dtype(detail["dtype"]),
                scale=float(scale),
                zero_point=int(zero_point),
            )
        )
    return tuple(infos)


class TFLiteRunner:
    """A .tflite model on the selected TFLite runtime (EDGE_AGENT_TFLITE_RUNTIME, else the first installed)."""

    def __init__(self, model_path: Path, threads: int, delegate: Delegate, edgetpu_device: str | None = None) -> None:
        runtime = select_runtime()
        self.runtime_name: str = runtime.name
        self.runtime_version: str = runtime.version
        self.threads: int = threads
        self._interpreter = open_interpreter(runtime, model_path, threads, delegate, edgetpu_device)
        self.inputs: tuple[TensorInfo, ...] = tensor_infos(self._interpreter.get_input_details())
        self.outputs: tuple[TensorInfo, ...] = tensor_infos(self._interpreter.get_output_details())
        self._input_indices = tuple(i.index for i in self.inputs)
        self._output_indices = tuple(o.index for o in self.outputs)

    def run(self, inputs: Sequence[npt.NDArray[Any]]) -> tuple[npt.NDArray[Any], ...]:
        # The tensor view is fetched per run and dropped before invoke(): the runtime refuses to invoke
        # while a view of its buffers is alive. get_tensor() returns copies.
        for index, array in zip(self._input_indices, inputs, strict=True):
            np.copyto(self._interpreter.tensor(index)(), array)
        self._interpreter.invoke()
        return tuple(self._interpreter.get_tensor(index) for index in self._output_indices)

    def run_again(self) -> None:
        self._interpreter.invoke()

    def all_tensors(self) -> tuple[TensorInfo, ...]:
        return tensor_infos(self._interpreter.get_tensor_details())
