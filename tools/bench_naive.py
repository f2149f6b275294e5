"""`bench.py naive`: the agent against tools/naive_loop.py (one process per camera) on the same live
RTSP stream, N = 2, 4 and 8 cameras at 30 fps 640x480 (the traffic clip), motion gate off in the agent.
The machine's speed decides where overload starts: on the 2-core VM, 4 x 30 fps was beyond the
detector on a slow day and within it on a fast one; 8 x 30 fps is beyond it on either.

Metric: fresh detections per second = frames whose detections reached the subscriber within 1 s of
capture, summed over cameras. Also latency p50/p95 and its growth (median of the last third of the
window minus the first third). The naive loop's capture time is first-read + index / 30 (see its doc),
which favours it if the server drops frames for a slow reader."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bench_env as env

FPS = 30
WIDTH, HEIGHT = 640, 480
FRESH_MS = 1000.0
TARGET = 1.5
CAMERA_COUNTS = (2, 4, 8)


def frame_latencies(per_camera: dict[str, list[tuple[float, float]]], window_s: float) -> dict[str, Any]:
    """Summary of (capture ts, latency ms) samples of all cameras."""
    samples = sorted(s for frames in per_camera.values() for s in frames)
    lat = [ms for _, ms in samples]
    third = max(len(samples) // 3, 1)
    return {
        "frames": len(samples),
        "fps": len(samples) / window_s,
        "fresh_fps": sum(1 for ms in lat if ms <= FRESH_MS) / window_s,
        "p50_ms": env.percentile(lat, 50),
        "p95_ms": env.percentile(lat, 95),
        "growth_ms": env.percentile(lat[-third:], 50) - env.percentile(lat[:third], 50),
        "series": samples,
    }


def naive_records(messages: list[env.Msg]) -> list[tuple[str, int, float, float]]:
    """(camera, frame index, read time, receive time) once per frame (the loop sends one message per detection)."""
    seen: dict[tuple[str, int], tuple[str, int, float, float]] = {}
    for m in messages:
        body = json.loads(m.payload)
        key = (body["camera"], int(body["frame"]))
        seen.setdefault(key, (key[0], key[1], float(body["read_ts"]), m.recv_wall))
    return list(seen.values())


def agent_records(messages: list[env.Msg]) -> list[tuple[str, int, float, float]]:
    out = []
    for m in messages:
        if m.topic.endswith("/detections"):
            body = json.loads(m.payload)
            out.append((body["camera"], int(body["seq"]), float(body["ts"]), m.recv_wall))
    return out


def run_naive(work: Path, port: int, url: str, n: int, warmup_s: float, window_s: float) -> tuple[list[env.Msg], float]:
    collector = env.Collector(port, "naive/#")
    script = Path(__file__).with_name("naive_loop.py")
    procs = []
    try:
        for i in range(n):
            cmd = [sys.executable, str(script), "--source", url, "--model", str(env.model_path())]
            cmd += ["--labels", str(env.labels_path()), "--camera", f"cam{i}", "--port", str(port)]
            cmd += ["--stream-fps", str(FPS)]
            procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
        env.sleep_with_bar(warmup_s, f"naive x{n} warm-up")
        window_start = time.time()
        env.sleep_with_bar(window_s, f"naive x{n}")
        return collector.take(), window_start
    finally:
        for proc in procs:
            env.stop_process(proc)
        collector.close()


def compare(n: int, warmup_s: float, window_s: float) -> dict[str, Any]:
    with env.workdir(f"naive{n}") as work:
        broker = env.Broker(work).start()
        server, url = env.start_rtsp(env.video(env.TRAFFIC), FPS, WIDTH, HEIGHT)
        try:
            msgs, start = run_naive(work, broker.port, url, n, warmup_s, window_s)
            naive = frame_latencies(env.anchored_frames(naive_records(msgs), FPS, start), window_s)
            time.sleep(1.0)
            cams = {f"cam{i}": env.camera(url, detect_fps=float(FPS), motion={"enabled": False}) for i in range(n)}
            msgs, start = env.run_agent_window(work, broker.port, cams, warmup_s, window_s, f"agent x{n}")
            agent = frame_latencies(env.anchored_frames(agent_records(msgs), FPS, start), window_s)
            agent["stats"] = env.latest_stats(msgs)
        finally:
            env.stop_process(server)
            broker.stop()
    return {
        "cameras": n,
        "naive": naive,
        "agent": agent,
        "fresh_ratio": agent["fresh_fps"] / naive["fresh_fps"] if naive["fresh_fps"] > 0 else float("inf"),
    }


def plot(results: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.5), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        for name in ("naive", "agent"):
            series = r[name]["series"]
            if series:
                t0 = series[0][0]
                ax.plot([t - t0 for t, _ in series], [ms / 1000.0 for _, ms in series], ".", ms=2, label=name)
        ax.set_title(f"{r['cameras']} cameras, live RTSP {FPS} fps")
        ax.set_xlabel("when the camera produced the frame (s, from the first one)")
        ax.set_ylabel("capture -> subscriber latency (s)")
        ax.legend()
    fig.tight_layout()
    env.PLOT_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(env.PLOT_DIR / "naive_vs_agent.png", dpi=100)
    plt.close(fig)


def run(quick: bool) -> list[dict[str, Any]]:
    warmup, window = (6.0, 12.0) if quick else (8.0, 30.0)
    results = [compare(n, warmup, window) for n in CAMERA_COUNTS]
    env.save_result("naive", {"fps": FPS, "runs": results})
    plot(results)
    for r in results:
        a, b = r["agent"], r["naive"]
        print(
            f"naive x{r['cameras']}: fresh detections/s agent {a['fresh_fps']:.1f} vs naive {b['fresh_fps']:.1f} "
            f"(ratio {r['fresh_ratio']:.2f}, target >= {TARGET}); frames/s {a['fps']:.1f} vs {b['fps']:.1f}; "
            f"latency p50 {a['p50_ms']:.0f} vs {b['p50_ms']:.0f} ms, p95 {a['p95_ms']:.0f} vs {b['p95_ms']:.0f} ms, "
            f"growth {a['growth_ms']:.0f} vs {b['growth_ms']:.0f} ms"
        )
    return results
