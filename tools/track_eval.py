"""Identity quality on the hand-labelled walkway (tests/data/walkway_ids/gt.txt): IDF1, MOTA and ID switches
(motmetrics) of this tracker without and with re-id, norfair and supervision's ByteTrack, all fed the SAME
detections per frame; and the cost per frame of the tracker and of re-id, as ratios to the detector's invoke
time measured in the same run.

Every labelled frame (every 2nd frame, i.e. 5 detector runs per second of video) is decoded once, detected
once, and handed to every tracker. A tracker reports a box for a frame only when it matched a detection there
(confirmed tracks; peers with the same 3-hit confirmation and 2 s memory as this tracker's defaults).

Usage: .venv/bin/python tools/track_eval.py [--model ssd_mobilenet_v1_coco_uint8_300 --model yolov8n_int8_416]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.catalog.resolve import resolve_model, resolve_reid_model  # noqa: E402
from agent.config.analytics import TrackerConfig  # noqa: E402
from agent.config.loader import load_config_text  # noqa: E402
from agent.config.reid import ReidConfig  # noqa: E402
from agent.core.track import Tracker  # noqa: E402
from agent.detect import ModelDetector  # noqa: E402
from agent.geometry import boxes_to_array, iou_matrix  # noqa: E402
from agent.reid import CropEmbedder, open_embedder  # noqa: E402
from agent.types import BBox, Detection, Image, TrackState  # noqa: E402
from tests.support.assets import PEDESTRIANS, assets_dir  # noqa: E402

GT_FILE = REPO / "tests" / "data" / "walkway_ids" / "gt.txt"
MATCH_IOU = 0.5  # a hypothesis box is the ground-truth box when IoU >= this (the MOT Challenge rule)
FPS = 10.0
# The model settings of docs/events.md (SSD: min_score 0.3; YOLOv8n: 0.25 with NMS IoU 0.4).
MODELS: dict[str, dict[str, Any]] = {
    "ssd_mobilenet_v1_coco_uint8_300": {"min_score": 0.3},
    "yolov8n_int8_416": {"min_score": 0.25, "nms_iou": 0.4},
}
Boxes = list[tuple[int, BBox]]  # (identity, box) of one frame


def load_gt(path: Path = GT_FILE) -> dict[int, Boxes]:
    """MOT lines -> {0-based frame: [(id, box)]}."""
    frames: dict[int, Boxes] = defaultdict(list)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split(",")
        try:
            frame, ident, x, y, w, h = (float(p) for p in parts[:6])
        except ValueError as exc:
            raise SystemExit(f"{path}:{n}: not a MOT line (frame,id,x,y,w,h,...): {line!r}") from exc
        frames[int(frame) - 1].append((int(ident), BBox(x, y, x + w, y + h)))
    return dict(frames)


class OurTracker:
    """agent.core.track.Tracker as the processor drives it (re-id crops embedded where it asks)."""

    def __init__(self, cfg: TrackerConfig, embedder: CropEmbedder | None) -> None:
        self._tracker = Tracker(cfg)
        self._embedder = embedder
        self.cost_s = 0.0  # tracker only
        self.embed_s = 0.0
        self.crops = 0

    def step(self, image: Image, dets: Sequence[Detection], ts: float) -> Boxes:
        self._tracker.set_frame_size(int(image.shape[1]), int(image.shape[0]))
        t0 = time.perf_counter()
        tracks = self._tracker.update(dets, ts)
        self.cost_s += time.perf_counter() - t0
        if self._embedder is not None:
            requests = self._tracker.appearance_requests()
            if requests:
                t1 = time.perf_counter()
                vectors = self._embedder.embed(image, [r.box for r in requests])
                self.embed_s += time.perf_counter() - t1
                self.crops += len(requests)
                t2 = time.perf_counter()
                tracks = self._tracker.attach({r.track_id: v for r, v in zip(requests, vectors, strict=True)})
                self.cost_s += time.perf_counter() - t2
        return [(t.track_id, t.box) for t in tracks if t.state is TrackState.CONFIRMED and t.last_seen == ts]


class NorfairTracker:
    """norfair with IoU distance, matched to this tracker's defaults: IoU >= 0.2, 3 hits, 2 s (10 runs) memory."""

    def __init__(self) -> None:
        from norfair.tracker import Detection as NorfairDetection
        from norfair.tracker import Tracker as NorfairCore

        self._detection = NorfairDetection
        self._tracker = NorfairCore(
            distance_function="iou", distance_threshold=0.8, hit_counter_max=10, initialization_delay=2
        )

    def step(self, image: Image, dets: Sequence[Detection], ts: float) -> Boxes:
        del image, ts
        nf = [
            self._detection(
                points=np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]]), scores=np.array([d.score, d.score])
            )
            for d in dets
        ]
        out: Boxes = []
        for obj in self._tracker.update(detections=nf):
            if obj.id is not None and any(obj.last_detection is n for n in nf):
                corners: list[float] = np.asarray(obj.last_detection.points, dtype=np.float64).reshape(4).tolist()
                x1, y1, x2, y2 = corners
                out.append((int(obj.id), BBox(x1, y1, x2, y2)))
        return out


class ByteTrackTracker:
    """supervision's ByteTrack at 5 runs/s: high score 0.5 as this tracker's, 2 s memory, 3 frames to confirm."""

    def __init__(self) -> None:
        import supervision as sv

        self._sv = sv
        # max_time_lost = frame_rate / 30 * lost_track_buffer = 10 runs = 2 s
        self._tracker = sv.ByteTrack(
            track_activation_threshold=0.5,
            lost_track_buffer=60,
            minimum_matching_threshold=0.8,
            frame_rate=5,
            minimum_consecutive_frames=3,
        )

    def step(self, image: Image, dets: Sequence[Detection], ts: float) -> Boxes:
        del image, ts
        xyxy = np.array([[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in dets], dtype=np.float32).reshape(-1, 4)
        scores = np.array([d.score for d in dets], dtype=np.float32)
        found = self._sv.Detections(xyxy=xyxy, confidence=scores, class_id=np.zeros(len(dets), dtype=int))
        tracked = self._tracker.update_with_detections(found)
        ids: list[int] = [] if tracked.tracker_id is None else [int(i) for i in tracked.tracker_id]
        return [(int(i), BBox(*(float(v) for v in box))) for i, box in zip(ids, tracked.xyxy, strict=True)]


@dataclass
class Scores:
    """One tracker's output on every labelled frame."""

    name: str
    frames: dict[int, Boxes] = field(default_factory=dict)


def detector_for(model: str) -> ModelDetector:
    doc = {
        "device_id": "teval",
        "model_dir": str(assets_dir() / "models"),
        "model": {"path": model, **MODELS.get(model, {})},
        "cameras": {"walkway": {"source": str(assets_dir() / "videos" / PEDESTRIANS)}},
    }
    cfg = load_config_text(yaml.safe_dump(doc))
    resolved = resolve_model(cfg)
    return ModelDetector(resolved.model_path, resolved.labels_path, cfg.model)


def reid_embedder() -> CropEmbedder:
    doc = {"device_id": "teval", "model_dir": str(assets_dir() / "models"), "model": {"path": "x.tflite"}}
    cfg = load_config_text(yaml.safe_dump({**doc, "cameras": {"c": {"source": "/dev/video0"}}}))
    return open_embedder(resolve_reid_model(cfg, ReidConfig().model), threads=1)


def run(model: str, gt: dict[int, Boxes], tracker_cfg: TrackerConfig | None = None) -> dict[str, Any]:
    """Every tracker on the detections of `model` on the labelled frames; metrics and costs.
    `tracker_cfg`: the re-id run's tracker settings (default: TrackerConfig with reid defaults)."""
    detector = detector_for(model)
    plain = OurTracker(TrackerConfig(), None)
    with_reid = OurTracker(tracker_cfg or TrackerConfig(reid=ReidConfig()), reid_embedder())
    trackers: dict[str, Any] = {
        "this tracker": plain,
        "this tracker + re-id": with_reid,
        "norfair": NorfairTracker(),
        "ByteTrack (supervision)": ByteTrackTracker(),
    }
    outputs = {name: Scores(name) for name in trackers}
    invoke_ms: list[float] = []
    people: list[int] = []
    cap = cv2.VideoCapture(str(assets_dir() / "videos" / PEDESTRIANS))
    index = -1
    last = max(gt)
    while index < last:
        ok, raw = cap.read()
        if not ok:
            break
        index += 1
        if index not in gt:
            continue
        image = cast("Image", raw)  # 8-bit BGR, as decoded
        result = detector.detect(image)
        invoke_ms.append(result.inference_ms)
        people.append(len(gt[index]))
        dets = [d for d in result.detections if d.label == "person"]
        for name, tracker in trackers.items():
            outputs[name].frames[index] = tracker.step(image, dets, index / FPS)
    cap.release()
    n = len(invoke_ms)
    ref_ms = statistics.median(invoke_ms)
    cost = {
        "frames": n,
        "people_per_frame_mean": statistics.fmean(people),
        "detector_invoke_ms_median": ref_ms,
        "tracker_ms_per_frame": 1000.0 * plain.cost_s / n,
        "tracker_with_reid_ms_per_frame": 1000.0 * with_reid.cost_s / n,
        "reid_ms_per_frame": 1000.0 * with_reid.embed_s / n,
        "reid_crops_per_frame": with_reid.crops / n,
        "reid_ms_per_crop": 1000.0 * with_reid.embed_s / max(with_reid.crops, 1),
    }
    cost["tracker_ratio_to_invoke"] = cost["tracker_ms_per_frame"] / ref_ms
    cost["reid_ratio_to_invoke"] = cost["reid_ms_per_frame"] / ref_ms
    metrics = {name: identity_metrics(gt, out.frames) for name, out in outputs.items()}
    return {"model": model, "metrics": metrics, "cost": cost}


def identity_metrics(gt: dict[int, Boxes], hyp: dict[int, Boxes]) -> dict[str, float]:
    """IDF1, MOTA, ID switches, precision and recall; distances are our own 1 - IoU (not motmetrics' iou_matrix)."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for frame in sorted(gt):
        truth, found = gt[frame], hyp.get(frame, [])
        ious = iou_matrix(boxes_to_array([b for _, b in truth]), boxes_to_array([b for _, b in found]))
        distances = np.where(ious >= MATCH_IOU, 1.0 - ious, np.nan)
        acc.update([i for i, _ in truth], [i for i, _ in found], distances)
    names = ["idf1", "mota", "num_switches", "precision", "recall", "num_unique_objects", "mostly_tracked"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="x")
    return {**{k: float(summary[k].iloc[0]) for k in names}, **splits_and_merges(gt, hyp)}


def splits_and_merges(gt: dict[int, Boxes], hyp: dict[int, Boxes], min_frames: int = 3) -> dict[str, float]:
    """ids per person: tracker ids that cover a labelled person for >= min_frames (1.0: never split);
    merged ids: tracker ids that cover two or more people for >= min_frames each (0: never merged)."""
    cover: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))  # hyp id -> gt id -> frames
    for frame, truth in gt.items():
        found = hyp.get(frame, [])
        if not truth or not found:
            continue
        ious = iou_matrix(boxes_to_array([b for _, b in truth]), boxes_to_array([b for _, b in found]))
        for col, (hyp_id, _) in enumerate(found):
            row = int(np.argmax(ious[:, col]))
            if ious[row, col] >= MATCH_IOU:
                cover[hyp_id][truth[row][0]] += 1
    per_person: dict[int, int] = defaultdict(int)
    merged = 0
    for counts in cover.values():
        people = [g for g, n in counts.items() if n >= min_frames]
        merged += len(people) > 1
        for g in people:
            per_person[g] += 1
    return {"ids_per_person": statistics.fmean(per_person.values()) if per_person else 0.0, "merged_ids": merged}


def tracker_settings(overrides: list[str]) -> TrackerConfig:
    """TrackerConfig with reid on, then `a.b=value` overrides (value parsed as YAML)."""
    doc: dict[str, Any] = {"reid": {}}
    for item in overrides:
        key, _, raw = item.partition("=")
        node = doc
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return TrackerConfig.model_validate(doc)


def identity_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| detector | tracker | IDF1 | MOTA | ID switches | ids/person | merged ids | precision | recall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for name, m in res["metrics"].items():
            lines.append(
                f"| {res['model']} | {name} | {100 * m['idf1']:.1f} | {100 * m['mota']:.1f} | "
                f"{int(m['num_switches'])} | {m['ids_per_person']:.2f} | {int(m['merged_ids'])} | "
                f"{100 * m['precision']:.1f} | {100 * m['recall']:.1f} |"
            )
    return lines


def cost_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| detector | people/frame | invoke ms (ref) | tracker ms/frame (ratio) | re-id ms/frame (ratio) | crops/frame | ms/crop |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in results:
        c = res["cost"]
        lines.append(
            f"| {res['model']} | {c['people_per_frame_mean']:.1f} | {c['detector_invoke_ms_median']:.1f} | "
            f"{c['tracker_ms_per_frame']:.3f} ({c['tracker_ratio_to_invoke']:.3f}) | "
            f"{c['reid_ms_per_frame']:.2f} ({c['reid_ratio_to_invoke']:.3f}) | "
            f"{c['reid_crops_per_frame']:.2f} | {c['reid_ms_per_crop']:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None, report: Callable[[str], None] = print) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="catalogue name; default both shared TFLite detectors")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument(
        "--set", action="append", default=[], help="re-id run's tracker setting, e.g. reid.every_n_frames=20"
    )
    args = parser.parse_args(argv)
    gt = load_gt()
    cfg = tracker_settings(args.set)
    results = [run(model, gt, cfg) for model in (args.model or list(MODELS))]
    report("\n".join(identity_table(results)))
    report("\n".join(cost_table(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
