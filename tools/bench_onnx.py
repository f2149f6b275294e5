"""`bench.py onnx`: LiteRT yolov8n_int8_416.tflite against ONNX Runtime yolox_nano_416.onnx (fp32) and
its int8 build, in one run:

1. int8 calibration: `models quantize` (agent.detect.quantize) on 4 / 16 / 64 frames of the two
   shared videos, each checked on the same 50 held-out frames (recall of the fp32 detections at IoU
   0.5, score >= 0.5); the 64-frame build (the default) is the int8 model of the rest.
2. Bare invoke ms with 1 and 2 threads (ModelDetector.invoke_only, input set once, median).
3. ONNX Runtime's intra-op spinning (2 threads): invoke ms and the process's CPU per invoke when each
   invoke is followed by a 5 ms gap, as in the agent, where the detector thread prepares and decodes
   between invokes: spinning pool threads burn that gap.
4. Pipeline efficiency per model and thread count (bench_efficiency.measure: the real agent
   against the same runtime's own bare invoke rate).
5. Detections on the shared videos (every 10th frame, score >= 0.5)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, cast

import bench_efficiency
import bench_env as env
import cv2

from agent.config.schema import ModelConfig
from agent.detect import ModelDetector
from agent.detect.agreement import overall
from agent.detect.ort_runtime import OrtRunner
from agent.detect.quantize import QuantizeRequest, quantize_model
from agent.types import Image

TFLITE = "yolov8n_int8_416.tflite"
YOLOX = "yolox_nano_416.onnx"
LABELS = "coco80.labels.txt"
CALIBRATION_SIZES = (4, 16, 64)
HELD_OUT = 50
INVOKES = 60
GAP_S = 0.005
MIN_SCORE = 0.5
EVERY_NTH = 10


def asset(name: str) -> Path:
    path = env.assets_dir() / "models" / name
    if not path.exists():
        raise SystemExit(f"bench: model {path} missing (set EDGE_AGENT_ASSETS to the shared assets folder)")
    return path


def calibration(work: Path, sizes: tuple[int, ...]) -> tuple[list[dict[str, Any]], Path]:
    """Agreement of int8 builds against the number of calibration frames; returns the rows and the last build."""
    sources = (env.video(env.PEDESTRIANS), env.video(env.TRAFFIC))
    rows: list[dict[str, Any]] = []
    out = work
    for frames in sizes:
        out = work / f"yolox_nano_416_int8_{frames}.onnx"
        request = QuantizeRequest(asset(YOLOX), asset(LABELS), sources, out, frames, HELD_OUT, threads=2)
        started = time.monotonic()
        report = quantize_model(request)
        by_label = {r.label: r for r in report.labels}
        rows.append(
            {
                "frames": report.calibration_frames,
                "held_out": report.held_out_frames,
                "all": overall(report.labels).recall,
                **{label: by_label[label].recall for label in ("person", "car") if label in by_label},
                "fp32_ms": report.fp32_ms,
                "int8_ms": report.int8_ms,
                "seconds": time.monotonic() - started,
            }
        )
        print(f"calibration {frames:>3} frames: recall all {rows[-1]['all']:.3f} {rows[-1]}")
    return rows, out


def first_frame() -> Any:
    capture = cv2.VideoCapture(str(env.video(env.TRAFFIC)))
    _, image = capture.read()
    capture.release()
    return image


def bare_invoke_ms(model: Path, threads: int) -> float:
    detector = ModelDetector(model, asset(LABELS), ModelConfig(path=str(model), threads=threads))
    detector.detect(first_frame())
    return statistics.median(detector.invoke_only() for _ in range(INVOKES))


def spinning(model: Path, threads: int = 2) -> dict[str, dict[str, float]]:
    """Invoke ms and CPU ms per invoke (with a GAP_S pause after each) with the pool spinning or not."""
    detector = ModelDetector(model, asset(LABELS), ModelConfig(path=str(model), threads=threads))
    buffer = detector.new_input_buffer()
    detector.prepare(first_frame(), buffer)
    out: dict[str, dict[str, float]] = {}
    for spin in (False, True, False, True):
        runner = OrtRunner(model, threads, spinning=spin)
        runner.run((buffer,))
        times, cpu0 = [], time.process_time()
        for _ in range(INVOKES):
            started = time.perf_counter()
            runner.run_again()
            times.append((time.perf_counter() - started) * 1000.0)
            time.sleep(GAP_S)
        cpu_ms = (time.process_time() - cpu0) * 1000.0 / INVOKES
        key = "spinning" if spin else "not spinning"
        previous = out.get(key)
        row = {"invoke_ms": statistics.median(times), "cpu_ms_per_invoke": cpu_ms}
        out[key] = row if previous is None else {k: (previous[k] + row[k]) / 2 for k in row}
    return out


def video_detections(model: Path) -> dict[str, dict[str, float]]:
    detector = ModelDetector(model, asset(LABELS), ModelConfig(path=str(model), min_score=MIN_SCORE))
    out = {}
    for name in (env.PEDESTRIANS, env.TRAFFIC):
        capture = cv2.VideoCapture(str(env.video(name)))
        people, cars, index = [], [], 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if index % EVERY_NTH == 0:
                labels = [d.label for d in detector.detect(cast(Image, image)).detections]  # 8-bit BGR, as decoded
                people.append(labels.count("person"))
                cars.append(labels.count("car"))
            index += 1
        capture.release()
        out[name] = {
            "frames": len(people),
            "person_frames": sum(1 for p in people if p),
            "person_mean": statistics.mean(people),
            "car_frames": sum(1 for c in cars if c),
            "car_mean": statistics.mean(cars),
        }
    return out


def run(quick: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"quick": quick}
    with env.workdir("onnx") as work:
        sizes = CALIBRATION_SIZES[:2] if quick else CALIBRATION_SIZES
        result["calibration"], int8 = calibration(work, sizes)
        models = {"litert yolov8n int8": asset(TFLITE), "ort yolox fp32": asset(YOLOX), "ort yolox int8": int8}
        labels = asset(LABELS)
        result["invoke_ms"] = {name: {t: bare_invoke_ms(path, t) for t in (1, 2)} for name, path in models.items()}
        print(f"bare invoke ms (1 / 2 threads): {result['invoke_ms']}")
        result["spinning"] = {name: spinning(models[name]) for name in ("ort yolox fp32", "ort yolox int8")}
        print(f"ORT intra-op spinning, 2 threads: {result['spinning']}")
        result["detections"] = {name: video_detections(path) for name, path in models.items()}
        print(f"detections: {result['detections']}")
        rounds = 2 if quick else 4
        traffic = env.video(env.TRAFFIC)
        efficiency: dict[str, dict[int, dict[str, float]]] = {}
        for name, path in models.items():
            efficiency[name] = {}
            for threads in (1, 2):
                measured = bench_efficiency.measure(quick, traffic, rounds, threads, (path, labels))
                efficiency[name][threads] = {
                    "ratio": measured["unpaced"]["ratio"],
                    "pipeline_fps": measured["unpaced"]["pipeline_fps"],
                    "raw": measured["unpaced"]["raw"],
                    "paced_ratio": measured["paced"]["ratio"],
                }
                print(f"efficiency {name}, {threads} thread(s): {efficiency[name][threads]}")
        result["efficiency"] = efficiency
    env.save_result("onnx", result)
    one = {name: rows[1]["ratio"] for name, rows in efficiency.items()}
    print("onnx: efficiency with 1 thread " + ", ".join(f"{name} {ratio:.3f}" for name, ratio in one.items()))
    return result
