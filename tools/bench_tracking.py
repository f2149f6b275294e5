"""`bench.py tracking`: identity-aware tracking (issue 18), every figure from one run.

1. IDF1, MOTA, ID switches, splits and merges on the hand-labelled walkway identities
   (tests/data/walkway_ids), for this tracker without and with re-id, norfair and supervision's
   ByteTrack on the same detections, with both shared TFLite detectors (tools/track_eval.py).
2. Tracker ms per frame without re-id and re-id ms per frame amortised, each as a ratio to the
   detector's median invoke time measured in the same pass.
3. Events per pass, fragments and flapping on the walkway and the intersection with both detectors,
   before (re-id off, no containment suppression) and after (defaults + tracker.reid), through
   tools/event_quality.py's replay mode (the agent's own CameraProcessor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bench_env as env
import event_quality
import track_eval
import yaml

# The camera and model settings of docs/events.md, per detector.
EVENT_SETTINGS: dict[str, tuple[list[str], list[str]]] = {
    "ssd_mobilenet_v1_coco_uint8_300": (
        ["min_score=0.3"],
        ["crossing:tracker.high_score=0.45", "crossing:min_score=0.45"],
    ),
    "yolov8n_int8_416": (
        ["min_score=0.25", "nms_iou=0.4"],
        ["crossing:tracker.high_score=0.3", "crossing:min_score=0.3"],
    ),
}
VARIANTS = {"before": ["tracker.contained_ratio=1.0"], "after": ["tracker.reid={}"]}


def event_tables(models: list[str]) -> dict[str, list[str]]:
    passes = yaml.safe_load(event_quality.PASSES_FILE.read_text())
    tables: dict[str, list[str]] = {}
    for model in models:
        model_set, camera_set = EVENT_SETTINGS[model]
        for variant, extra in VARIANTS.items():
            cameras = event_quality.camera_configs([*camera_set, *extra], realtime=False)
            payloads = event_quality.run_replay_mode(cameras, event_quality.model_config(model, model_set))
            tables[f"{model} {variant}"] = event_quality.table(payloads, passes)
    return tables


def run(quick: bool) -> dict[str, Any]:
    models = list(track_eval.MODELS)[-1:] if quick else list(track_eval.MODELS)
    gt = track_eval.load_gt()
    identity = [track_eval.run(model, gt) for model in models]
    print("\n".join(track_eval.identity_table(identity)))
    print("\n".join(track_eval.cost_table(identity)))
    events = event_tables(models)
    for name, lines in events.items():
        print(name)
        print("\n".join(lines))
    result = {"identity": identity, "events": events}
    path: Path = env.save_result("tracking", result)
    best = {
        r["model"]: (
            100 * r["metrics"]["this tracker + re-id"]["idf1"],
            100 * max(r["metrics"]["norfair"]["idf1"], r["metrics"]["ByteTrack (supervision)"]["idf1"]),
        )
        for r in identity
    }
    print(
        "tracking: IDF1 re-id vs better peer "
        + ", ".join(f"{m} {ours:.1f} vs {peer:.1f}" for m, (ours, peer) in best.items())
        + f" ({path})"
    )
    return result
