"""`bench.py web`: CPU and RSS the event store, clips and HTTP server add to the real agent, with 1 and 4
looping cameras: the store alone (clips and http off), everything with no web client and with one
MJPEG viewer, each against the same cameras with storage and http off measured in the same run (deltas and ratios, never absolute targets); and the
pre-roll buffer's memory per camera, from the shared videos' frames encoded as the recorder does."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import bench_env as env
import cv2
import psutil

SETTLE_S, WINDOW_S = 15.0, 30.0
QUICK_SETTLE_S, QUICK_WINDOW_S = 8.0, 15.0
MODES = ("off", "store", "on", "on+mjpeg")  # store: storage on, clips and http off
DETECT_FPS = 5.0


def cameras(n: int) -> dict[str, Any]:
    videos = [env.video(env.PEDESTRIANS), env.video(env.TRAFFIC)]
    return {f"cam{i}": env.camera(videos[i % 2], detect_fps=DETECT_FPS) for i in range(n)}


def config(work: Path, port: int, n: int, mode: str, http_port: int) -> dict[str, Any]:
    cfg = env.agent_config(work / "state", port, cameras(n))
    if mode == "store":
        cfg["storage"] = {"enabled": True, "clips": {"enabled": False}}
    elif mode != "off":
        cfg["storage"] = {"enabled": True}
        cfg["http"] = {"enabled": True, "port": http_port}
    return cfg


class MjpegViewer(threading.Thread):
    """One client reading /api/cameras/cam0/mjpeg and counting the JPEG parts it receives."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.frames = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=10) as stream:
                    while not self.stop_event.is_set():
                        line = stream.readline()
                        if not line:
                            return
                        if line.startswith(b"Content-Type: image/jpeg"):
                            self.frames += 1
            except OSError:
                time.sleep(0.5)  # the server is not up yet


def measure(n: int, mode: str, settle_s: float, window_s: float) -> dict[str, float]:
    with env.workdir(f"web{n}") as work:
        broker = env.Broker(work).start()
        http_port = env.free_port()
        agent = viewer = None
        try:
            path = env.write_config(work / "agent.yaml", config(work, broker.port, n, mode, http_port))
            agent = env.start_agent(path)
            proc = psutil.Process(agent.pid)
            if mode == "on+mjpeg":
                viewer = MjpegViewer(f"http://127.0.0.1:{http_port}/api/cameras/cam0/mjpeg")
                viewer.start()
            env.sleep_with_bar(settle_s, f"web {n} cam {mode} settle")
            if agent.poll() is not None:
                raise SystemExit(f"bench: agent exited: {path.with_suffix('.log').read_text()[-2000:]}")
            cpu0, frames0, t0 = sum(proc.cpu_times()[:2]), viewer.frames if viewer else 0, time.monotonic()
            rss: list[float] = []
            end = t0 + window_s
            while time.monotonic() < end:
                rss.append(proc.memory_info().rss / 2**20)
                time.sleep(1.0)
            elapsed = time.monotonic() - t0
            cpu = (sum(proc.cpu_times()[:2]) - cpu0) / elapsed
            mjpeg_fps = ((viewer.frames if viewer else 0) - frames0) / elapsed
            store = work / "state" / "store"
            store_mb = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20 if store.exists() else 0.0
            return {"cpu_cores": cpu, "rss_mb": max(rss), "mjpeg_fps": mjpeg_fps, "store_mb": store_mb}
        finally:
            if viewer is not None:
                viewer.stop_event.set()
            env.stop_process(agent)
            broker.stop()


def preroll_mb(video: Path, pre_roll_s: float = 5.0, max_width_px: int = 640, quality: int = 75) -> float:
    """Pre-roll memory of one camera: (pre_roll_s + the start record's lag) x detect_fps JPEGs of this
    video's frames at the recorder's size and quality (the lag with the default events and tracker)."""
    from agent.clips.recorder import start_lag_s
    from agent.config.analytics import EventsConfig, TrackerConfig

    window_s = pre_roll_s + start_lag_s(EventsConfig().min_duration_s, TrackerConfig().min_hits, DETECT_FPS)
    cap = cv2.VideoCapture(str(video))
    sizes: list[int] = []
    while len(sizes) < 100:
        ok, frame = cap.read()
        if not ok:
            break
        scale = min(1.0, max_width_px / frame.shape[1])
        small = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)))
        sizes.append(len(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]))
    cap.release()
    return window_s * DETECT_FPS * (sum(sizes) / len(sizes)) / 2**20


def run(quick: bool) -> dict[str, Any]:
    settle_s, window_s = (QUICK_SETTLE_S, QUICK_WINDOW_S) if quick else (SETTLE_S, WINDOW_S)
    runs = {f"{n}cam_{mode}": measure(n, mode, settle_s, window_s) for n in (1, 4) for mode in MODES}
    result: dict[str, Any] = {"settle_s": settle_s, "window_s": window_s, "runs": runs}
    deltas = {}
    for n in (1, 4):
        off = runs[f"{n}cam_off"]
        for mode in MODES[1:]:
            on = runs[f"{n}cam_{mode}"]
            deltas[f"{n}cam_{mode}"] = {
                "cpu_cores_delta": on["cpu_cores"] - off["cpu_cores"],
                "cpu_ratio": on["cpu_cores"] / off["cpu_cores"],
                "rss_mb_delta": on["rss_mb"] - off["rss_mb"],
                "mjpeg_fps": on["mjpeg_fps"],
            }
    result["deltas"] = deltas
    result["preroll_mb_per_camera"] = {v: preroll_mb(env.video(v)) for v in (env.PEDESTRIANS, env.TRAFFIC)}
    env.save_result("web", result)
    parts = [
        f"{key}: cpu +{d['cpu_cores_delta']:.3f} cores (x{d['cpu_ratio']:.2f}) rss {d['rss_mb_delta']:+.1f} MiB"
        + (f" mjpeg {d['mjpeg_fps']:.1f} fps" if "mjpeg" in key else "")
        for key, d in deltas.items()
    ]
    pre = ", ".join(f"{Path(v).stem} {mb:.2f} MiB" for v, mb in result["preroll_mb_per_camera"].items())
    print("web: " + "; ".join(parts) + f"; pre-roll per camera: {pre}")
    return result
