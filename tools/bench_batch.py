"""`bench.py batch`: `edge-agent analyze` throughput on each shared video, against the bare interpreter.

Three measurements, each a ratio within one run:
- **every frame**: analyse the whole file with detect_fps above its frame rate and the motion gate
  off, so every frame goes through the detector (one interpreter thread). Analysed frames/s are
  divided by the bare interpreter's invokes/s (ModelDetector.invoke_only, one thread), measured in a
  window before and after each file and averaged. Goal: >= 0.95.
- **defaults**: the same file with the config's defaults (detect_fps 5, motion gate on): speed-up
  over realtime (media seconds per second of wall time).
- **jobs**: both files with `--jobs 2` against `--jobs 1` (real `python -m agent analyze`
  subprocesses, alternated): the wall-time speed-up of analysing a day of recordings in parallel.

The analysis runs in this process through agent.batch.run.analyze_file, as the CLI does per file."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bench_env as env
from bench_efficiency import first_frame, raw_rate

from agent.batch.config import batch_config
from agent.batch.run import FileJob, FileResult, analyze_file
from agent.config.loader import load_config
from agent.config.schema import ModelConfig
from agent.daemon.app import limit_opencv_threads
from agent.detect import ModelDetector

TARGET_RATIO = 0.95
THREADS = 1
VIDEOS = (env.PEDESTRIANS, env.TRAFFIC)


def batch_job(work: Path, video: Path, every_frame: bool) -> FileJob:
    """The FileJob `edge-agent analyze` makes for `video`, with one interpreter thread."""
    overrides: dict[str, Any] = {"detect_fps": 1000.0, "motion": {"enabled": False}} if every_frame else {}
    doc = env.agent_config(work / "live-state", 1, {"cam": env.camera(video, **overrides)})
    doc["model"]["threads"] = THREADS
    name = f"{video.stem}-{'every' if every_frame else 'defaults'}"
    path = env.write_config(work / f"{name}.yaml", doc)
    out = work / "out" / name
    config = batch_config(load_config(path), "cam", video, out)
    return FileJob(video, "cam", config, out, publish=False, detections=False, show_progress=False)


def analysed(result: FileResult) -> tuple[int, float, float]:
    """(frames, media seconds, wall seconds) of a finished file."""
    if result.position is None:
        raise SystemExit(f"bench: {result.video} was not analysed: {result.error}")
    position = result.position
    return position.frames, position.media_s, position.wall_s


def measure_file(work: Path, detector: ModelDetector, video: Path, window_s: float) -> dict[str, Any]:
    before = raw_rate(detector, window_s)
    frames, media_s, elapsed_s = analysed(analyze_file(batch_job(work, video, every_frame=True)))
    after = raw_rate(detector, window_s)
    bare = (before + after) / 2.0
    _, default_media_s, default_elapsed_s = analysed(analyze_file(batch_job(work, video, every_frame=False)))
    return {
        "video": video.name,
        "frames": frames,
        "media_s": media_s,
        "analysed_fps": frames / elapsed_s,
        "bare_invokes_per_s": bare,
        "bare_windows": [before, after],
        "ratio": frames / elapsed_s / bare,
        "every_frame_x_realtime": media_s / elapsed_s,
        "defaults_x_realtime": default_media_s / default_elapsed_s,
    }


def jobs_wall_s(work: Path, videos: list[Path], jobs: int) -> float:
    doc = env.agent_config(work / "live-state", 1, {"cam": env.camera(videos[0])})
    doc["model"]["threads"] = THREADS
    path = env.write_config(work / "jobs.yaml", doc)
    command = [sys.executable, "-m", "agent", "analyze", *map(str, videos), "--config", str(path)]
    command += ["--out", str(work / f"jobs-{jobs}"), "--jobs", str(jobs)]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, cwd=work)
    return time.monotonic() - started


def run(quick: bool) -> None:
    limit_opencv_threads()  # as `edge-agent analyze` does
    window_s = 2.0 if quick else 4.0
    videos = [env.video(name) for name in VIDEOS]
    with env.workdir("batch") as work:
        detector = ModelDetector(env.model_path(), env.labels_path(), ModelConfig(path=env.SSD_MODEL, threads=THREADS))
        detector.detect(first_frame(videos[0]))
        files = [measure_file(work, detector, video, window_s) for video in videos]
        rounds = 1 if quick else 2
        walls: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(rounds):
            for jobs in (1, 2):
                walls[jobs].append(jobs_wall_s(work, videos, jobs))
    one, two = statistics.median(walls[1]), statistics.median(walls[2])
    result = {"threads": THREADS, "files": files, "jobs_wall_s": walls, "jobs2_speedup": one / two}
    env.save_result("batch", result)
    for f in files:
        print(
            f"batch {f['video']}: {f['analysed_fps']:.1f} analysed frames/s vs {f['bare_invokes_per_s']:.1f} bare "
            f"invokes/s = ratio {f['ratio']:.3f} (target {TARGET_RATIO}); every frame {f['every_frame_x_realtime']:.1f}x "
            f"realtime, defaults {f['defaults_x_realtime']:.1f}x realtime"
        )
    print(f"batch --jobs 2 vs --jobs 1 on both files: {one:.1f} s vs {two:.1f} s = {one / two:.2f}x")
    worst = min(f["ratio"] for f in files)
    print(
        f"batch: worst analysed/bare ratio {worst:.3f} ({'meets' if worst >= TARGET_RATIO else 'misses'} {TARGET_RATIO})"
    )
