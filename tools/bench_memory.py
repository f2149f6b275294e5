"""`bench.py memory`: resident memory of the real agent process (psutil) with 1, 4 and 8 cameras,
and its growth over a soak with 4 cameras (default 30 minutes).

Cameras are the two shared videos, 640x480-ish, looping in real time, motion gate on (the default).
Growth is measured from the end of a warm-up (a tenth of the soak, at least 1 minute) to the end.
The agent runs with the systemd unit's Environment= (bench_env.start_agent), as the service does.
Besides RSS (the target's measure), each run records USS/PSS and RSS split into anonymous and
file-backed pages: the shared libraries' code pages (OpenCV, LiteRT, numpy...) are about half."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import bench_env as env
import psutil

SETTLE_S = 25.0  # RSS of a fresh agent is read after this long (models loaded, rings full, first events)
SAMPLE_S = 5.0
TARGET_ONE_MB = 120.0
TARGET_PER_CAMERA_MB = 25.0
TARGET_GROWTH = 0.05


def cameras(n: int) -> dict[str, Any]:
    videos = [env.video(env.TRAFFIC), env.video(env.PEDESTRIANS)]
    return {f"cam{i}": env.camera(videos[i % 2], detect_fps=5.0) for i in range(n)}


def rss_mb(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / 2**20


def breakdown_mb(proc: psutil.Process) -> dict[str, float]:
    """USS, PSS (psutil, from smaps) and RSS split into anonymous / file-backed pages (/proc/PID/status)."""
    full = proc.memory_full_info()
    out = {"uss": full.uss / 2**20, "pss": full.pss / 2**20}
    with open(f"/proc/{proc.pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                out[key.lower().replace("rss", "rss_")] = float(value.split()[0]) / 1024
    return out


def measure_rss(n: int, settle_s: float) -> tuple[float, dict[str, float]]:
    """Highest RSS over the last 5 s of a fresh n-camera agent, and the breakdown at the end."""
    with env.workdir(f"mem{n}") as work:
        broker = env.Broker(work).start()
        agent = None
        try:
            cfg = env.write_config(work / "agent.yaml", env.agent_config(work / "state", broker.port, cameras(n)))
            agent = env.start_agent(cfg)
            proc = psutil.Process(agent.pid)
            samples: list[float] = []
            bar = env.progress(round(settle_s), f"memory {n} cam")
            end = time.monotonic() + settle_s
            while time.monotonic() < end:
                time.sleep(1.0)
                bar.update(1)
                if agent.poll() is not None:
                    raise SystemExit(f"bench: agent exited: {cfg.with_suffix('.log').read_text()[-2000:]}")
                if end - time.monotonic() < 5.0:
                    samples.append(rss_mb(proc))
            bar.close()
            return max(samples), breakdown_mb(proc)
        finally:
            env.stop_process(agent)
            broker.stop()


def soak(minutes: float, n: int = 4) -> dict[str, Any]:
    total_s = minutes * 60.0
    warmup_s = max(60.0, total_s / 10.0) if minutes >= 2 else total_s / 4.0
    with env.workdir("soak") as work:
        broker = env.Broker(work).start()
        agent = None
        try:
            cfg = env.write_config(work / "agent.yaml", env.agent_config(work / "state", broker.port, cameras(n)))
            agent = env.start_agent(cfg)
            proc = psutil.Process(agent.pid)
            started = time.monotonic()
            series: list[tuple[float, float]] = []
            bar = env.progress(round(total_s), f"soak {n} cam")
            while (elapsed := time.monotonic() - started) < total_s:
                if agent.poll() is not None:
                    raise SystemExit(f"bench: agent exited during soak: {cfg.with_suffix('.log').read_text()[-2000:]}")
                series.append((elapsed, rss_mb(proc)))
                time.sleep(SAMPLE_S)
                bar.update(SAMPLE_S)
            bar.close()
            cpu_s = sum(proc.cpu_times()[:2])
        finally:
            env.stop_process(agent)
            broker.stop()
    after_warmup = [mb for t, mb in series if t >= warmup_s]
    base = after_warmup[0]
    last = sum(mb for _, mb in series[-6:]) / len(series[-6:])
    return {
        "minutes": minutes,
        "cameras": n,
        "warmup_s": warmup_s,
        "rss_after_warmup_mb": base,
        "rss_end_mb": last,
        "rss_peak_mb": max(mb for _, mb in series),
        "growth": (last - base) / base,
        "cpu_s": cpu_s,
        "series": series,
    }


def plot_soak(result: dict[str, Any]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    t = [s / 60.0 for s, _ in result["series"]]
    mb = [m for _, m in result["series"]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(t, mb)
    ax.axvline(result["warmup_s"] / 60.0, color="grey", linestyle=":", label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("agent RSS (MiB)")
    ax.set_title(f"RSS over a {result['minutes']:g}-minute soak, {result['cameras']} cameras")
    ax.legend()
    env.PLOT_DIR.mkdir(parents=True, exist_ok=True)
    path = env.PLOT_DIR / "memory_soak.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(quick: bool, soak_minutes: float, skip_rss: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if not skip_rss:
        settle = 12.0 if quick else SETTLE_S
        runs = {n: measure_rss(n, settle) for n in (1, 4, 8)}
        rss = {n: mb for n, (mb, _) in runs.items()}
        per_extra = max((rss[4] - rss[1]) / 3.0, (rss[8] - rss[1]) / 7.0)
        result.update(
            {
                "rss_mb": rss,
                "per_extra_camera_mb": per_extra,
                "breakdown_mb": {n: parts for n, (_, parts) in runs.items()},
                "agent_env": {k: v for k, v in env.agent_environment().items() if k.startswith("MALLOC_")},
            }
        )
    if soak_minutes > 0:
        result["soak"] = soak(soak_minutes)
        plot_soak(result["soak"])
    env.save_result("memory" if not skip_rss else "memory_soak", result)
    parts = []
    if "rss_mb" in result:
        rss = result["rss_mb"]
        parts.append(
            f"rss_1cam_mb={rss[1]:.1f} rss_4cam_mb={rss[4]:.1f} rss_8cam_mb={rss[8]:.1f} "
            f"per_extra_camera_mb={result['per_extra_camera_mb']:.1f} "
            f"(targets <= {TARGET_ONE_MB:.0f}, <= {TARGET_PER_CAMERA_MB:.0f})"
        )
        one = result["breakdown_mb"][1]
        parts.append(
            f"1cam: anon={one['rss_anon']:.1f} file={one['rss_file']:.1f} uss={one['uss']:.1f} pss={one['pss']:.1f} "
            f"env={result['agent_env'] or 'none'}"
        )
    if "soak" in result:
        s = result["soak"]
        parts.append(
            f"soak_{s['minutes']:g}min_growth={s['growth'] * 100:.2f}% "
            f"({s['rss_after_warmup_mb']:.1f}->{s['rss_end_mb']:.1f} MiB, target < {TARGET_GROWTH * 100:.0f}%)"
        )
    print("memory: " + " ".join(parts))
    return result
