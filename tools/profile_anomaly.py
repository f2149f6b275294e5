"""Benchmark of the anomaly stage's added cost per processed frame at 720p, next to the real
detector on the same frames: AnomalyStage.on_frame (default AnomalyConfig, tamper grey at its check
rate, tracks from the real tracker) vs ModelDetector.detect / invoke, in one process.

Usage: .venv/bin/python tools/profile_anomaly.py [--model ssd|yolo416] [--detect-fps 5] [--frames 300]
Not a test: the numbers depend on the machine and its load."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from agent.config.analytics import TrackerConfig
from agent.config.anomaly import AnomalyConfig
from agent.config.schema import ModelConfig
from agent.core.anomaly import StreamStatus
from agent.core.track import Tracker
from agent.detect import ModelDetector
from agent.pipeline.anomaly_stage import AnomalyStage
from agent.types import Frame, Image

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"
MODELS = {
    "ssd": ("ssd_mobilenet_v1_coco_uint8_300.tflite", "ssd_mobilenet_v1_coco_uint8_300.labels.txt"),
    "yolo416": ("yolov8n_int8_416.tflite", "coco80.labels.txt"),
}
T0 = 1_750_000_000.0
MS = 1000.0


def load_frames(path: Path, count: int, size: tuple[int, int]) -> list[Image]:
    capture = cv2.VideoCapture(str(path))
    frames: list[Image] = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames decoded from {path}")
    return frames


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{name:<40} n {len(ordered):4d}  median {statistics.median(ordered):7.3f} ms  "
        f"p90 {p90:7.3f} ms  mean {statistics.fmean(ordered):7.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--video", type=Path, default=ASSETS / "videos" / "pedestrians_vtest.avi")
    parser.add_argument("--model", choices=sorted(MODELS), default="ssd")
    parser.add_argument("--detect-fps", type=float, default=5.0, help="processed frames per second (camera default 5)")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    model, labels = MODELS[args.model]
    detector = ModelDetector(ASSETS / "models" / model, ASSETS / "models" / labels, ModelConfig(path=model))
    tracker = Tracker(TrackerConfig())
    frames = load_frames(args.video, args.frames, (1280, 720))
    status = StreamStatus(online=True, fps=10.0, nominal_fps=10.0)
    with tempfile.TemporaryDirectory() as tmp:
        stage = AnomalyStage("bench", AnomalyConfig(), Path(tmp) / "bench.json", lambda: status)
        detect_ms: list[float] = []
        invoke_ms: list[float] = []
        checked_ms: list[float] = []
        plain_ms: list[float] = []
        next_check = 0.0  # mirrors the stage's schedule (a grey frame every check_interval_s) to sort samples
        for seq, image in enumerate(frames, start=1):
            ts = T0 + seq / args.detect_fps
            start = time.perf_counter()
            result = detector.detect(image)
            detect_ms.append((time.perf_counter() - start) * MS)
            invoke_ms.append(result.inference_ms)
            tracks = tracker.update(result.detections, ts)
            grey_due = ts >= next_check
            if grey_due:
                next_check = ts + AnomalyConfig().tamper.check_interval_s
            start = time.perf_counter()
            stage.on_frame(Frame("bench", seq, ts, ts, image), tracks, {}, {})
            (checked_ms if grey_due else plain_ms).append((time.perf_counter() - start) * MS)
    every = checked_ms + plain_ms
    print(f"720p frames of {args.video.name}, {args.model}, {args.detect_fps:g} processed frames/s, default config")
    print(describe("detector.detect (preprocess+invoke+decode)", detect_ms))
    print(describe("detector invoke only", invoke_ms))
    print(describe("anomaly stage, frame with tamper check", checked_ms))
    print(describe("anomaly stage, frame without check", plain_ms))
    print(describe("anomaly stage, every frame (amortised)", every))
    ratio = statistics.fmean(every) / statistics.fmean(detect_ms)
    print(f"anomaly stage mean / detect mean: {ratio:.3f}")


if __name__ == "__main__":
    main()
