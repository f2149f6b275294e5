"""Runs the labelled anomaly scenario suite and prints precision, recall and
detection delay per kind, plus the per-frame cost of the tamper check at 720p.

Usage: .venv/bin/python tools/anomaly_eval.py [--weeks 4] [--quick]
Videos come from $EDGE_AGENT_ASSETS or ../shared/assets (tests/support/assets.py)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config.anomaly import AnomalyConfig
from agent.core.anomaly import AnomalyEngine, StreamStatus, tamper_grey
from agent.types import Image
from tests.support.anomaly_scenarios import load_clip, run_scenario, score, video_scenarios
from tests.support.anomaly_scripted import count_scenario, rare_scenario, zone_scenarios
from tests.support.assets import PEDESTRIANS, TRAFFIC, assets_dir

HD = (1280, 720)
COST_FRAMES = 150


def run_suite(weeks: int, quick: bool) -> None:
    videos = [PEDESTRIANS] if quick else [PEDESTRIANS, TRAFFIC]
    runs = []
    for name in videos:
        path = assets_dir() / "videos" / name
        started = time.perf_counter()
        clip = load_clip(path)
        print(f"decoded {name}: {len(clip.frames)} frames sampled in {time.perf_counter() - started:.1f} s")
        runs += [(s, run_scenario(s)) for s in video_scenarios(clip)]
    scripted = [*zone_scenarios(), rare_scenario(), count_scenario(weeks, True), count_scenario(weeks, False, seed=3)]
    runs += [(s, run_scenario(s)) for s in scripted]
    header = f"{'kind':18} {'windows':>7} {'found':>5} {'alarms':>6} {'precision':>9} {'recall':>6}"
    print(f"\n{header} {'delay s (median/max)':>22}")
    for kind, s in sorted(score(runs).items()):
        delay = f"{statistics.median(s.delays_s):.1f} / {max(s.delays_s):.1f}" if s.delays_s else "-"
        print(f"{kind:18} {s.windows:7d} {s.found:5d} {s.detections:6d} {s.precision:9.2f} {s.recall:6.2f} {delay:>22}")
    silent = [s.name for s, d in runs if not s.expected and not d]
    print(f"\nnegative scenarios silent: {len(silent)}/{sum(1 for s, _ in runs if not s.expected)}")


def _decode_hd_ms(frames: list[Image]) -> float:
    """Encode the frames as a 720p MPEG-4 file, then time decoding it back (ms per frame)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "hd.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*"mp4v"), 10.0, HD)
        for frame in frames:
            writer.write(frame)
        writer.release()
        cap = cv2.VideoCapture(path)
        started, n = time.perf_counter(), 0
        while cap.read()[0]:
            n += 1
        cap.release()
    return (time.perf_counter() - started) * 1000.0 / max(n, 1)


def measure_cost() -> None:
    cap = cv2.VideoCapture(str(assets_dir() / "videos" / PEDESTRIANS))
    frames: list[Image] = []
    while len(frames) < COST_FRAMES:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cast(Image, cv2.resize(bgr, HD, interpolation=cv2.INTER_LINEAR)))  # 8-bit BGR, as decoded
    cap.release()
    decode_ms = _decode_hd_ms(frames)
    cfg = AnomalyConfig()
    engine = AnomalyEngine("cost", cfg, lambda: "x")
    status = StreamStatus(online=True, fps=10.0, nominal_fps=10.0)
    samples = []
    for i, frame in enumerate(frames):
        started = time.perf_counter()
        grey = tamper_grey(frame, cfg.tamper.grey_width_px)
        engine.update(1000.0 + i * 0.1, (), {}, grey, status)
        samples.append((time.perf_counter() - started) * 1000.0)
    cost_ms = statistics.median(samples)
    print(f"\ntamper check at 720p (downscale + features + engine update), median of {len(samples)}: {cost_ms:.2f} ms")
    print(f"720p decode in this run: {decode_ms:.2f} ms/frame -> tamper/decode ratio {cost_ms / decode_ms:.2f}")
    rate = 1 / cfg.tamper.check_interval_s
    print(f"the caller runs it at tamper.check_interval_s, i.e. on {rate:.0f} frames per second, not on every frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--weeks", type=int, default=4, help="weeks of synthetic counts (the last one holds the faults)"
    )
    parser.add_argument("--quick", action="store_true", help="pedestrians video only")
    args = parser.parse_args()
    started = time.perf_counter()
    run_suite(args.weeks, args.quick)
    measure_cost()
    print(f"\nsuite and measurement took {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
