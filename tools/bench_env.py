"""Shared plumbing of the benchmark suite (tools/bench.py): asset paths, a private mosquitto,
RTSP server processes, agent configs and subprocesses, a subscriber, progress bars and results.

Runs on the benchmark's main thread only. Nothing here is imported by the agent."""

from __future__ import annotations

import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "bench-out"
PLOT_DIR = REPO_ROOT / "docs" / "perf"
SSD_MODEL = "ssd_mobilenet_v1_coco_uint8_300"
PEDESTRIANS = "pedestrians_vtest.avi"
TRAFFIC = "traffic_intersection_cctv_640x480.mp4"
SYSTEM_PYTHON = "/usr/bin/python3"
UNIT_FILE = REPO_ROOT / "systemd" / "edge-agent.service"
# Set to 1 to run the agent without the unit's Environment= (e.g. to measure what the MALLOC_* lines save).
NO_UNIT_ENV = "BENCH_NO_UNIT_ENV"
READY_TIMEOUT_S = 30.0


def assets_dir() -> Path:
    return Path(os.environ.get("EDGE_AGENT_ASSETS", REPO_ROOT.parent / "shared" / "assets")).resolve()


def model_path(name: str = SSD_MODEL) -> Path:
    return assets_dir() / "models" / f"{name}.tflite"


def labels_path(name: str = SSD_MODEL) -> Path:
    return assets_dir() / "models" / f"{name}.labels.txt"


def video(name: str) -> Path:
    path = assets_dir() / "videos" / name
    if not path.exists():
        raise SystemExit(f"bench: video {path} missing (set EDGE_AGENT_ASSETS to the shared assets folder)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def progress(total: float, desc: str, unit: str = "s") -> Any:
    """A tqdm bar on stderr, or a silent stand-in where tqdm is not installed (the tflite-runtime venv)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


class _NoBar:
    def update(self, n: float = 1) -> None: ...
    def set_postfix_str(self, text: str) -> None: ...
    def close(self) -> None: ...


def sleep_with_bar(seconds: float, desc: str) -> None:
    bar = progress(round(seconds), desc)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        bar.update(1)
    bar.close()


def save_result(name: str, result: dict[str, Any]) -> Path:
    runtime = os.environ.get("EDGE_AGENT_TFLITE_RUNTIME")
    if runtime and not name.endswith(runtime):
        name = f"{name}_{runtime}"
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Broker:
    """A private mosquitto on a free port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench: mosquitto did not start")

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[Any] | None, timeout_s: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_rtsp(
    file: Path, fps: int, width: int, height: int, bitrate_kbps: int = 2000
) -> tuple[subprocess.Popen[str], str]:
    """tools/rtsp_server.py serving `file` looping at fps and size; returns (process, url)."""
    port = free_port()
    cmd = [SYSTEM_PYTHON, str(REPO_ROOT / "tools" / "rtsp_server.py"), "--file", str(file), "--port", str(port)]
    cmd += ["--fps", str(fps), "--width", str(width), "--height", str(height), "--bitrate-kbps", str(bitrate_kbps)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = proc.stdout.readline()
                if line.startswith("READY "):
                    return proc, line.split()[1]
                if not line:
                    break
    stop_process(proc)
    raise SystemExit(f"bench: RTSP server for {file} did not become ready")


def camera(source: str | Path, **overrides: Any) -> dict[str, Any]:
    """A camera config dict with benchmark defaults (file sources loop)."""
    cfg: dict[str, Any] = {"source": str(source), "loop": True}
    cfg.update(overrides)
    return cfg


MODEL_THREADS_ENV = "BENCH_MODEL_THREADS"


def model_threads() -> int:
    """Interpreter threads for every benchmark (env BENCH_MODEL_THREADS, default 2 = the agent's default)."""
    return int(os.environ.get(MODEL_THREADS_ENV, "2"))


def agent_config(state_dir: Path, port: int, cameras: dict[str, Any], prefix: str = "bench") -> dict[str, Any]:
    return {
        "device_id": "bench",
        "state_dir": str(state_dir),
        "model_dir": str(assets_dir() / "models"),
        "log_level": "WARNING",
        "mqtt": {"host": "127.0.0.1", "port": port, "topic_prefix": prefix, "stats_interval_s": 1.0},
        "outbox": {"synchronous": "normal"},
        "model": {"path": SSD_MODEL, "min_score": 0.5, "threads": model_threads()},
        "cameras": cameras,
    }


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def unit_environment(unit: Path = UNIT_FILE) -> dict[str, str]:
    """The variables the systemd unit's Environment= lines set, in order (later assignments win).

    Benchmarks start the agent with them because some only act at process start (glibc reads
    MALLOC_ARENA_MAX and MALLOC_TRIM_THRESHOLD_ once), so the agent cannot apply them itself."""
    variables: dict[str, str] = {}
    for raw in unit.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Environment":
            for word in shlex.split(value):
                name, _, val = word.partition("=")
                variables[name] = val
    return variables


def agent_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, then the unit's Environment= (unless BENCH_NO_UNIT_ENV=1), then `env`."""
    unit = {} if os.environ.get(NO_UNIT_ENV) == "1" else unit_environment()
    return {**os.environ, **unit, "PYTHONPATH": str(REPO_ROOT), **(env or {})}


def start_agent(
    config_path: Path, python: str = sys.executable, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The agent as a subprocess, started with the systemd unit's environment (agent_environment)."""
    log = config_path.with_suffix(".log").open("wb")
    full_env = agent_environment(env)
    return subprocess.Popen(
        [python, "-m", "agent", "run", "--config", str(config_path)], stdout=log, stderr=subprocess.STDOUT, env=full_env
    )


@dataclass(frozen=True, slots=True)
class Msg:
    topic: str
    payload: bytes
    recv_wall: float


class Collector:
    """A paho subscriber that keeps (topic, payload, receive wall time) of every message."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[Msg] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=0)
        self._client.on_subscribe = lambda *a: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit(f"bench: could not subscribe to {topic}")

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.time()
        with self._lock:
            self.messages.append(Msg(msg.topic, msg.payload, now))

    def take(self) -> list[Msg]:
        with self._lock:
            out, self.messages = self.messages, []
            return out

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def detection_latencies_ms(messages: list[Msg]) -> list[float]:
    """Receive wall time minus the payload's capture wall time `ts`, for detections messages."""
    out = []
    for m in messages:
        if m.topic.endswith("/detections"):
            out.append((m.recv_wall - float(json.loads(m.payload)["ts"])) * 1000.0)
    return out


def latest_stats(messages: list[Msg]) -> dict[str, Any] | None:
    stats = [m for m in messages if m.topic.endswith("/stats")]
    return json.loads(stats[-1].payload) if stats else None


def run_agent_window(
    work: Path, port: int, cameras: dict[str, Any], warmup_s: float, window_s: float, desc: str
) -> tuple[list[Msg], float]:
    """Run the real agent subprocess on `cameras`; return everything a subscriber received and the window's
    start (wall time): messages before it are warm-up."""
    collector = Collector(port, "bench/#")
    cfg = write_config(work / f"{desc.replace(' ', '_')}.yaml", agent_config(work / "state", port, cameras))
    agent = start_agent(cfg)
    try:
        sleep_with_bar(warmup_s, f"{desc} warm-up")
        if agent.poll() is not None:
            raise SystemExit(f"bench: agent exited: {cfg.with_suffix('.log').read_text()[-2000:]}")
        window_start = time.time()
        sleep_with_bar(window_s, desc)
        return collector.take(), window_start
    finally:
        stop_process(agent)
        collector.close()


def agent_frames(messages: list[Msg], window_start: float) -> dict[str, list[tuple[float, float]]]:
    """Per camera, (capture ts, latency ms) of every detections message received in the window."""
    out: dict[str, list[tuple[float, float]]] = {}
    for m in messages:
        if m.topic.endswith("/detections") and m.recv_wall >= window_start:
            body = json.loads(m.payload)
            out.setdefault(body["camera"], []).append((float(body["ts"]), (m.recv_wall - float(body["ts"])) * 1000.0))
    return out


def anchored_frames(
    records: list[tuple[str, int, float, float]], fps: float, window_start: float
) -> dict[str, list[tuple[float, float]]]:
    """Latency from when a live camera produced each frame, for readers that may fall behind.

    `records` are (camera, frame index, read wall time, receive wall time). A frame cannot be read
    before it is produced, and a live camera produces frame i at T0 + i / fps, so T0 <= min(read - i/fps);
    taking that bound as T0 never overstates the latency. Returns per camera (produced ts, latency ms)
    for frames received from window_start on."""
    anchor: dict[str, float] = {}
    for camera, index, read, _ in records:
        t0 = read - index / fps
        anchor[camera] = min(anchor.get(camera, t0), t0)
    out: dict[str, list[tuple[float, float]]] = {}
    for camera, index, _, recv in records:
        if recv >= window_start:
            produced = anchor[camera] + index / fps
            out.setdefault(camera, []).append((produced, (recv - produced) * 1000.0))
    return out
