"""`edge-agent models quantize`: a static int8 (QDQ, per-channel, uint8 activations) copy of an fp32 ONNX detector,
calibrated on the user's own frames preprocessed exactly as the detector does, then checked against
the fp32 model on held-out frames (recall of its detections per label) and timed. Runs on the CLI's
main thread; imports onnx and onnxruntime.quantization (the [onnx] extra)."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

from agent.catalog.resolve import CatalogEntry, load_catalog
from agent.config.schema import ModelConfig
from agent.detect.agreement import LabelAgreement, agreement, overall
from agent.detect.detector import ModelDetector
from agent.detect.frame_picks import Footage, open_footage, pick, read_frames
from agent.errors import ModelError
from agent.types import Detection

QDQ_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear need opset 13 (axis attribute)
# Below this many calibration frames the int8 model loses objects (docs/performance.md, "int8 calibration").
MIN_CALIBRATION_FRAMES = 16
FEW_FRAMES_MEASURED = (
    "measured on yolox_nano_416 with percentile calibration: car recall 0.14 at 4 frames, 0.42 at 16, "
    "0.34 at 64; docs/performance.md"
)
# onnxruntime's calibrators hold every frame's activations until the end: yolox_nano_416 peaked at ~9 GB
# for 64 frames (~140 MB a frame, measured). MinMax's CalibMaxIntermediateOutputs is no way out: in
# onnxruntime 1.32 it discards the held frames without merging their ranges (calibrate.py collect_data),
# so only the last frames counted, and a multiple of it raised "No data is collected".
MAX_HELD_FRAMES = 100
DEFAULT_CALIBRATION_FRAMES = 64
DEFAULT_HELD_OUT_FRAMES = 50
PERCENTILE = 99.999  # of each activation's histogram
# MinMax gets worse with more frames (every outlier widens a range); percentile clips them: measured
# best from 16 frames on (docs/performance.md), so it is the default.
METHODS: dict[str, CalibrationMethod] = {
    "percentile": CalibrationMethod.Percentile,
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
}
DEFAULT_METHOD = "percentile"


@dataclass(frozen=True, slots=True)
class QuantizeRequest:
    model: Path
    labels: Path
    sources: tuple[Path, ...]
    out: Path
    calibration_frames: int = DEFAULT_CALIBRATION_FRAMES
    held_out_frames: int = DEFAULT_HELD_OUT_FRAMES
    threads: int = 2
    min_score: float = 0.5
    method: str = DEFAULT_METHOD


@dataclass(frozen=True, slots=True)
class QuantizeReport:
    out: Path
    method: str
    source_opset: int
    calibration_frames: int
    held_out_frames: int
    labels: tuple[LabelAgreement, ...]
    fp32_ms: float
    int8_ms: float
    min_score: float
    threads: int

    @property
    def too_few_frames(self) -> bool:
        return self.calibration_frames < MIN_CALIBRATION_FRAMES


def default_labels(model: Path) -> Path | None:
    """The catalogue's label file for a catalogued file name, else `<stem>.labels.txt` beside the model."""
    catalog = load_catalog()
    entry = catalog.by_file(model.name)
    candidate = catalog.directory / entry.labels if entry else model.with_name(model.stem + ".labels.txt")
    return candidate if candidate.is_file() else None


class _FrameReader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type hints
    """Feeds the calibration frames, each prepared by the fp32 detector, one per get_next()."""

    def __init__(self, detector: ModelDetector, input_name: str, frames: Iterator[Any]) -> None:
        self._detector = detector
        self._input_name = input_name
        self._frames = frames
        self.delivered = 0

    def get_next(self) -> dict[str, Any] | None:
        image = next(self._frames, None)
        if image is None:
            return None
        buffer = self._detector.new_input_buffer()
        self._detector.prepare(image, buffer)
        self.delivered += 1
        return {self._input_name: buffer}


def _opset_13_copy(model: Path, work: Path) -> tuple[Path, int]:
    """The model converted to opset 13 when it is older (QDQ per channel needs it); its original opset."""
    proto = onnx.load(str(model))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), QDQ_OPSET)
    if opset >= QDQ_OPSET:
        return model, opset
    converted = work / f"{model.stem}_opset{QDQ_OPSET}.onnx"
    onnx.save(version_converter.convert_version(proto, QDQ_OPSET), str(converted))
    return converted, opset


def _extra_options(method: str) -> dict[str, Any]:
    if method == "percentile":
        return {"CalibPercentile": PERCENTILE}
    return {}


def quantize_model(request: QuantizeRequest, entry: CatalogEntry | None = None) -> QuantizeReport:
    """Calibrate, write request.out, and compare it with the fp32 model on held-out frames."""
    if request.method not in METHODS:
        raise ModelError(f"calibration method {request.method!r} is not one of {', '.join(METHODS)}")
    if request.calibration_frames > MAX_HELD_FRAMES:
        raise ModelError(
            f"--frames {request.calibration_frames}: onnxruntime's calibration holds every "
            f"frame's activations in memory (about 140 MB a frame for yolox_nano_416); use at most "
            f"{MAX_HELD_FRAMES} frames"
        )
    footage: list[Footage] = [open_footage(source) for source in request.sources]
    picks = pick(sum(f.frames for f in footage), request.calibration_frames, request.held_out_frames)
    cfg = ModelConfig(path=str(request.model), min_score=request.min_score, threads=request.threads)
    fp32 = ModelDetector(request.model, request.labels, cfg, entry=entry)
    input_name = onnx.load(str(request.model), load_external_data=False).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="edge-agent-quantize-") as work:
        source, opset = _opset_13_copy(request.model, Path(work))
        reader = _FrameReader(fp32, input_name, read_frames(footage, picks.calibration))
        quantize_static(
            str(source),
            str(request.out),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            # uint8 activations, int8 weights: int8 activations agreed slightly better here (0.76 vs 0.62 at
            # 32 frames) but ran 3x slower than fp32 on x86 AVX2; see docs/performance.md.
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=METHODS[request.method],
            extra_options=_extra_options(request.method),
        )
    if reader.delivered == 0:
        raise ModelError(f"no calibration frame could be read from {', '.join(map(str, request.sources))}")
    int8 = ModelDetector(request.out, request.labels, cfg.model_copy(update={"path": str(request.out)}), entry=entry)
    reference: list[tuple[Detection, ...]] = []
    candidate: list[tuple[Detection, ...]] = []
    fp32_ms: list[float] = []
    int8_ms: list[float] = []
    for image in read_frames(footage, picks.held_out):
        ref, got = fp32.detect(image), int8.detect(image)
        reference.append(ref.detections)
        candidate.append(got.detections)
        fp32_ms.append(ref.inference_ms)
        int8_ms.append(got.inference_ms)
    return QuantizeReport(
        out=request.out,
        method=request.method,
        source_opset=opset,
        calibration_frames=reader.delivered,
        held_out_frames=len(reference),
        labels=agreement(reference, candidate),
        fp32_ms=statistics.median(fp32_ms) if fp32_ms else float("nan"),
        int8_ms=statistics.median(int8_ms) if int8_ms else float("nan"),
        min_score=request.min_score,
        threads=request.threads,
    )


def report_lines(report: QuantizeReport, most_labels: int = 10) -> list[str]:
    """What the CLI prints: the file, the agreement per label, the speed, and the warning if any."""
    converted = f"converted from opset {report.source_opset}, " if report.source_opset < QDQ_OPSET else ""
    lines = [
        f"wrote {report.out} (int8 QDQ per-channel, {converted}{report.method} calibration on {report.calibration_frames} frames)",
        f"agreement with the fp32 model on {report.held_out_frames} held-out frames (recall of its detections "
        f"at IoU 0.5, score >= {report.min_score}):",
    ]
    rows: Sequence[LabelAgreement] = [*report.labels[:most_labels], overall(report.labels)]
    lines += [f"  {r.label:<16} {r.matched:>5} / {r.reference:<5} {r.recall:6.1%}" for r in rows]
    speedup = report.fp32_ms / report.int8_ms if report.int8_ms else float("nan")
    lines.append(
        f"speed ({report.threads} threads, median per frame): fp32 {report.fp32_ms:.1f} ms, "
        f"int8 {report.int8_ms:.1f} ms ({speedup:.2f}x)"
    )
    if report.too_few_frames:
        lines.append(
            f"warning: only {report.calibration_frames} calibration frames; with fewer than "
            f"{MIN_CALIBRATION_FRAMES} the int8 model misses objects the fp32 one finds, small ones first "
            f"({FEW_FRAMES_MEASURED}). Calibrate on {MIN_CALIBRATION_FRAMES} to {DEFAULT_CALIBRATION_FRAMES} "
            "frames of your own cameras."
        )
    return lines
