"""`bench.py interpreters`: frames/s of the real agent for each way of spending the cores on the
detector: 1 interpreter x 1 thread, 1 x 2 threads, 2 interpreters x 1 thread, with 1, 2 and 4
busy cameras (looping files, `realtime: false`, motion gate off, `detect_fps: 1000`).

A comparison inside one run, rounds alternating the settings, so the VM's drift hits all alike.
The agent runs in-process (bench_efficiency.pipeline_rate) against a private mosquitto."""

from __future__ import annotations

import statistics
from typing import Any

import bench_env as env
from bench_efficiency import pipeline_rate

CAMERA_COUNTS = (1, 2, 4)
SETTINGS = ((1, 1), (1, 2), (2, 1))  # (model.interpreters, model.threads)


def run(quick: bool) -> dict[str, Any]:
    window, rounds = (3.0, 1) if quick else (5.0, 2)
    sources = [env.video(env.TRAFFIC), env.video(env.PEDESTRIANS)]
    fps: dict[str, list[float]] = {}
    with env.workdir("interp") as work:
        broker = env.Broker(work).start()
        bar = env.progress(rounds * len(CAMERA_COUNTS) * len(SETTINGS), "interpreters", unit="window")
        try:
            for _ in range(rounds):
                for cams in CAMERA_COUNTS:
                    for interpreters, threads in SETTINGS:
                        cameras = {
                            f"cam{i}": env.camera(
                                sources[i % 2], realtime=False, detect_fps=1000.0, motion={"enabled": False}
                            )
                            for i in range(cams)
                        }
                        key = f"{cams} cam, {interpreters} x {threads}"
                        doc = env.agent_config(work / f"state-{cams}-{interpreters}-{threads}", broker.port, cameras)
                        doc["model"].update({"interpreters": interpreters, "threads": threads})
                        path = env.write_config(work / f"agent-{cams}-{interpreters}-{threads}.yaml", doc)
                        fps.setdefault(key, []).append(pipeline_rate(path, window)["fps"])
                        bar.update(1)
                        bar.set_postfix_str(f"{key}: {fps[key][-1]:.0f}/s")
        finally:
            bar.close()
            broker.stop()
    result = {"window_s": window, "rounds": rounds, "fps": fps}
    env.save_result("interpreters", result)
    for key, values in fps.items():
        print(
            f"interpreters {key} thread(s): {statistics.median(values):.1f} frames/s ({', '.join(f'{v:.1f}' for v in values)})"
        )
    return result
