"""`bench.py stages`: milliseconds per frame of each pipeline stage, calling the agent's real components
in-process on real frames of the shared videos: decode, motion, preprocess, invoke, postprocess,
tracking, analytics (filters, zones, events, counts), encode + publish (to a private mosquitto).

The detector's steps are timed through the same public steps the pipeline's threads call (prepare,
invoke_prepared, decode); "publish" is the MQTT sink encoding a frame's records and queueing them.
Medians and p95 over every frame; one process, one run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_env as env
import cv2
import yaml

from agent.config.loader import load_config_text
from agent.core.track import Tracker
from agent.detect import ModelDetector
from agent.gate.motion import MotionDetector
from agent.pipeline.counters import DetectCounters
from agent.pipeline.processor import CameraProcessor
from agent.publish.client import MqttPublisher
from agent.publish.sink import MqttSink
from agent.records import Record
from agent.types import Frame

STAGES = ("decode", "motion", "preprocess", "invoke", "postprocess", "tracking", "analytics", "publish")


class Timer:
    """Collects per-stage samples in ms."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {name: [] for name in STAGES}

    def time(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args)
        self.samples[stage].append((time.perf_counter() - started) * 1000.0)
        return out


def stage_frames(video: Path, frames: int, detector: ModelDetector, publisher: MqttPublisher, config: Any) -> Timer:
    cam_cfg = config.cameras["cam0"]
    timer = Timer()
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    _, first = cap.read()
    h, w = first.shape[:2]
    motion = MotionDetector(cam_cfg.motion, (w, h))
    tracker = Tracker(cam_cfg.tracker)
    processor = CameraProcessor("cam0", cam_cfg, config.model.min_score, DetectCounters())
    sink = MqttSink(publisher)
    buffer = detector.new_input_buffer()
    bar = env.progress(frames, f"stages {video.name[:12]}", unit="frame")

    def publish(records: list[Record]) -> None:
        """Encoding and queueing: what the MQTT sink does with a frame's records on the analytics thread."""
        for record in records:
            sink.accept(record)

    for seq in range(1, frames + 1):
        image = timer.time("decode", lambda: cap.read()[1])
        if image is None:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            image = cap.read()[1]
        now = time.monotonic()
        frame = Frame("cam0", seq, now, time.time(), image)
        timer.time("motion", motion.update, image)
        timer.time("preprocess", detector.prepare, image, buffer)
        output = timer.time("invoke", detector.invoke_prepared, buffer)
        result = timer.time("postprocess", detector.decode, output, w, h, 0.3)
        timer.time("tracking", tracker.update, result.detections, now)
        out = timer.time("analytics", processor.analyse, frame, result)
        timer.time("publish", publish, out)
        bar.update(1)
    bar.close()
    cap.release()
    return timer


def summarise(timer: Timer) -> dict[str, dict[str, float]]:
    return {
        name: {"p50_ms": env.percentile(v, 50), "p95_ms": env.percentile(v, 95), "mean_ms": sum(v) / len(v)}
        for name, v in timer.samples.items()
    }


def plot(results: dict[str, dict[str, dict[str, float]]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(results)
    for i, (name, stages) in enumerate(results.items()):
        xs = [x + i * width for x in range(len(STAGES))]
        ax.bar(xs, [stages[s]["p50_ms"] for s in STAGES], width, label=name)
    ax.set_xticks([x + width * (len(results) - 1) / 2 for x in range(len(STAGES))], STAGES, rotation=20)
    ax.set_ylabel("ms per frame (median)")
    ax.set_yscale("log")
    ax.set_title("Cost of each stage per frame (SSD MobileNet v1 300, 2 threads)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    env.PLOT_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(env.PLOT_DIR / "stages.png", dpi=100)
    plt.close(fig)


def run(quick: bool) -> dict[str, Any]:
    frames = 60 if quick else 300
    results: dict[str, dict[str, dict[str, float]]] = {}
    with env.workdir("stages") as work:
        broker = env.Broker(work).start()
        try:
            raw = env.agent_config(work / "state", broker.port, {"cam0": env.camera(env.video(env.TRAFFIC))})
            config = load_config_text(yaml.safe_dump(raw), "bench")
            detector = ModelDetector(env.model_path(), env.labels_path(), config.model)
            publisher = MqttPublisher(config.mqtt, config.outbox, config.device_id, work)
            publisher.start()
            publisher.wait_connected(10.0)
            try:
                for video in (env.TRAFFIC, env.PEDESTRIANS):
                    results[video] = summarise(stage_frames(env.video(video), frames, detector, publisher, config))
            finally:
                publisher.stop(timeout_s=2.0)
        finally:
            broker.stop()
    env.save_result(f"stages_{detector.runtime_name}", {"runtime": detector.runtime_name, "frames": frames, **results})
    plot(results)
    for video, stages in results.items():
        total = sum(s["p50_ms"] for s in stages.values())
        share = stages["invoke"]["p50_ms"] / total
        cells = " ".join(f"{name}={s['p50_ms']:.2f}" for name, s in stages.items())
        print(f"stages {video} ({detector.runtime_name}) ms/frame p50: {cells} | invoke share {share:.1%}")
    traffic = results[env.TRAFFIC]
    # analytics runs its own tracker, so the separate tracking row is not added again
    non_invoke = sum(s["p50_ms"] for n, s in traffic.items() if n not in ("invoke", "decode", "tracking"))
    print(
        f"stages: invoke_ms={traffic['invoke']['p50_ms']:.2f} non_invoke_agent_ms={non_invoke:.2f} "
        f"decode_ms={traffic['decode']['p50_ms']:.2f} (traffic 640x480, median per frame)"
    )
    return results
