"""Micro-benchmark of the motion gate: cost per frame of MotionDetector.update at a given
resolution, next to a cv2.resize of the same frame to the model input measured in the same run.

Usage: .venv/bin/python tools/profile_motion.py [--video PATH] [--size 1280x720] [--frames 200]
Not a test: the numbers depend on the machine and its load."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from agent.config.perf import MotionConfig
from agent.gate.motion import MotionDetector
from agent.types import Image

DEFAULT_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "assets" / "videos" / "pedestrians_vtest.avi"


def load_frames(path: Path, count: int, size: tuple[int, int]) -> list[Image]:
    capture = cv2.VideoCapture(str(path))
    frames: list[Image] = []
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8))
    finally:
        capture.release()
    if not frames:
        raise SystemExit(f"no frames decoded from {path}")
    return frames


def time_ms(frames: list[Image], step: Callable[[Image], object]) -> list[float]:
    samples: list[float] = []
    for frame in frames:
        start = time.perf_counter()
        step(frame)
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    median = statistics.median(ordered)
    return f"{name:<34} median {median:6.3f} ms  p90 {p90:6.3f} ms  mean {statistics.fmean(ordered):6.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--size", default="1280x720", help="frame size WxH the video is scaled to before timing")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument(
        "--model-size", type=int, default=300, help="side of the resize the motion cost is compared with"
    )
    parser.add_argument("--motion-width", type=int, default=MotionConfig().frame_width_px)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames = load_frames(args.video, args.frames, (width, height))
    cv2.setNumThreads(1)  # like the agent's inference thread sharing cores with the interpreter
    detector = MotionDetector(MotionConfig(frame_width_px=args.motion_width), (width, height))
    detector.update(frames[0])
    model_input = np.empty((args.model_size, args.model_size, 3), dtype=np.uint8)

    def resize(frame: Image) -> None:
        cv2.resize(frame, (args.model_size, args.model_size), dst=model_input, interpolation=cv2.INTER_LINEAR)

    for _ in range(2):  # alternate to share any drift in machine load
        motion = time_ms(frames, detector.update)
        resized = time_ms(frames, resize)
    moving = sum(detector.update(f).moving for f in frames)
    print(f"{len(frames)} frames {width}x{height} from {args.video.name}, motion width {args.motion_width} px")
    print(describe("MotionDetector.update", motion))
    print(describe(f"cv2.resize to {args.model_size}x{args.model_size}", resized))
    print(f"ratio motion / resize (medians): {statistics.median(motion) / statistics.median(resized):.2f}")
    print(f"frames with motion: {moving}/{len(frames)}")


if __name__ == "__main__":
    main()
