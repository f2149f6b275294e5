"""`bench.py calibration`: the int8 calibration table. For each method and calibration frame count,
`models quantize` (agent.detect.quantize) builds yolox_nano_416.onnx int8 from frames of the two shared
videos and checks it against fp32 on 50 held-out frames (recall of the fp32 detections at IoU 0.5,
score >= 0.5, all / person / car). Runs on the main thread; each row is cached in bench-out."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import bench_env as env

from agent.detect.agreement import overall
from agent.detect.quantize import METHODS, QuantizeRequest, quantize_model

MODEL = "yolox_nano_416.onnx"
LABELS = "coco80.labels.txt"
COUNTS = (4, 16, 64, 100)
HELD_OUT = 50
CACHE = env.OUT_DIR / "calibration-cache"


def _cache_file(model: Path, method: str, frames: int) -> Path:
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
    return CACHE / f"{model.stem}-{digest}-{method}-{frames}-{HELD_OUT}.json"


def measure(work: Path, method: str, frames: int) -> dict[str, Any]:
    """One row: quantize on `frames` frames with `method`, recall per label on the held-out frames."""
    model = env.assets_dir() / "models" / MODEL
    cached = _cache_file(model, method, frames)
    if cached.exists():
        row: dict[str, Any] = json.loads(cached.read_text())
        return row
    sources = (env.video(env.PEDESTRIANS), env.video(env.TRAFFIC))
    out = work / f"{model.stem}_int8_{method}_{frames}.onnx"
    request = QuantizeRequest(
        model, env.assets_dir() / "models" / LABELS, sources, out, frames, HELD_OUT, method=method
    )
    started = time.monotonic()
    report = quantize_model(request)
    by_label = {r.label: r.recall for r in report.labels}
    row = {
        "method": method,
        "frames": report.calibration_frames,
        "held_out": report.held_out_frames,
        "all": overall(report.labels).recall,
        "person": by_label.get("person", float("nan")),
        "car": by_label.get("car", float("nan")),
        "seconds": round(time.monotonic() - started, 1),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(row))
    return row


def run(counts: tuple[int, ...] = COUNTS, methods: tuple[str, ...] = ("minmax", "percentile")) -> list[dict[str, Any]]:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"bench: unknown calibration method(s) {unknown}; known: {', '.join(METHODS)}")
    rows = []
    with env.workdir("calibration") as work:
        for method in methods:
            for frames in counts:
                rows.append(measure(work, method, frames))
                r = rows[-1]
                print(
                    f"{r['method']:<10} {r['frames']:>4} frames: recall all {r['all']:.3f} person {r['person']:.3f} car {r['car']:.3f}"
                )
    env.save_result("calibration", {"rows": rows})
    print("| method | frames | all | person | car |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['frames']} | {r['all']:.3f} | {r['person']:.3f} | {r['car']:.3f} |")
    return rows
