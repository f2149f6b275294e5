"""Releasing the loaded model file's resident pages (agent.detect.model_pages): the mapping stops
counting towards RSS, and the interpreter still gives the same outputs from the same input."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.config.schema import Delegate
from agent.detect.model_pages import release_model_pages
from agent.detect.runtime import Interpreter, open_interpreter, select_runtime
from tests.support import assets

MIB = 1024 * 1024


def mapped_rss_bytes(path: Path) -> int:
    """Resident bytes of every mapping of `path` in this process (/proc/self/smaps)."""
    target, inside, total = str(path.resolve()), False, 0
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            inside = len(fields) >= 6 and fields[5] == target
        elif inside and fields[0] == "Rss:":
            total += int(fields[1]) * 1024
    return total


def outputs(interpreter: Interpreter, image: np.ndarray) -> list[np.ndarray]:
    detail = interpreter.get_input_details()[0]
    interpreter.tensor(detail["index"])()[...] = image
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]


def test_open_interpreter_leaves_the_model_file_mostly_unmapped_and_outputs_unchanged() -> None:
    """After open_interpreter() under 1 MiB of the 4 MiB model stays resident, even after invoke(), and
    the outputs on a real-looking input equal those of an interpreter whose pages were never released."""
    model = assets.model(assets.SSD_MODEL)
    runtime = select_runtime()
    released = open_interpreter(runtime, model, 2, Delegate.CPU)
    image = np.random.default_rng(7).integers(0, 256, (1, 300, 300, 3), dtype=np.uint8)
    after = outputs(released, image)
    assert mapped_rss_bytes(model) < 1 * MIB
    reference = runtime.interpreter_class(model_path=str(model), num_threads=2)
    reference.allocate_tensors()
    assert mapped_rss_bytes(model) > 3 * MIB  # the fresh mapping is resident: the measure can fail
    for got, want in zip(after, outputs(reference, image), strict=True):
        np.testing.assert_array_equal(got, want)


def test_release_reports_the_bytes_it_covered_and_ignores_other_files(tmp_path: Path) -> None:
    """The return value is the size of the model's mappings, and a path nobody mapped releases nothing."""
    model = assets.model(assets.SSD_MODEL)
    keep = select_runtime().interpreter_class(model_path=str(model), num_threads=1)
    keep.allocate_tensors()
    assert release_model_pages(model) >= model.stat().st_size
    assert release_model_pages(tmp_path / "not-mapped.tflite") == 0


def test_without_proc_it_releases_nothing(tmp_path: Path) -> None:
    """Where /proc/self/maps cannot be read (not Linux) the call is a no-op returning 0."""
    assert release_model_pages(assets.model(assets.SSD_MODEL), maps=tmp_path / "absent") == 0
