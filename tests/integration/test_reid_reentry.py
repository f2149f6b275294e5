"""Done-when of issue 18 on real video: a person standing still while the detector loses them for 4 s stays one event.

The walkway video's man in jeans (identity 2 of tests/data/walkway_ids/gt.txt) stands by the sign post
from about 4 s to 10.6 s. The real YOLOv8n-416 detector runs on every frame the camera analyses (5 per
second of video), and a scripted Detector (a fake at our own Protocol) passes its detections on except the
boxes on that man from 5 s to 9 s: a detector dropout twice max_age_s long. The real CameraProcessor embeds
the real crops with the real OSNet model. With re-id his event goes on (same event_id, its end only after
the gap); without re-id, as a control, the same input ends his event during the gap."""

from __future__ import annotations

from typing import cast

import cv2
import pytest
import yaml

from agent.config.loader import load_config_text
from agent.config.schema import AgentConfig
from agent.daemon.cameras import build_embedder
from agent.pipeline.counters import DetectCounters
from agent.pipeline.processor import CameraProcessor
from agent.types import BBox, DetectionResult, Event, EventKind, Frame, Image
from tests.support import assets
from tests.support.reid import OSNET_MODEL, yolo_detector

pytestmark = pytest.mark.timeout(300)

FPS = 10.0
DETECT_EVERY = 2  # every 2nd frame: 5 detector runs per second of video
DROP_FROM_S, DROP_UNTIL_S = 5.0, 9.0
STANDING = BBox(369.0, 179.0, 405.0, 258.0)  # where the man stands in the ground truth (frames 40-106)
RUN_S = 14.0
T0 = 1_750_000_000.0


def on_him(box: BBox) -> bool:
    (x, y), (sx, sy) = box.center, STANDING.center
    return abs(x - sx) < STANDING.width and abs(y - sy) < 0.5 * STANDING.height


def config(reid: bool) -> AgentConfig:
    tracker = {"reid": {"model": OSNET_MODEL}} if reid else {}
    doc = {
        "device_id": "reentry",
        "model_dir": str(assets.assets_dir() / "models"),
        "model": {"path": "yolov8n_int8_416", "min_score": 0.25, "nms_iou": 0.4},
        "cameras": {
            "walkway": {
                "source": str(assets.video(assets.PEDESTRIANS)),
                "objects": ["person"],
                "min_score": 0.5,
                "tracker": tracker,
            }
        },
    }
    return load_config_text(yaml.safe_dump(doc))


def run(reid: bool) -> list[Event]:
    """The walkway's first RUN_S seconds through the real processor; his boxes dropped in the window."""
    cfg = config(reid)
    cam = cfg.cameras["walkway"]
    detector = yolo_detector(min_score=0.25)
    processor = CameraProcessor(
        "walkway", cam, cfg.model.min_score, DetectCounters(), embedder=build_embedder(cfg, cam)
    )
    events: list[Event] = []
    cap = cv2.VideoCapture(str(assets.video(assets.PEDESTRIANS)))
    index, ts = -1, 0.0
    while ts < RUN_S:
        ok, raw = cap.read()
        assert ok, "the walkway video ended early"
        index += 1
        ts = index / FPS
        if index % DETECT_EVERY:
            continue
        image = cast("Image", raw)  # 8-bit BGR, as decoded
        result = detector.detect(image)
        if DROP_FROM_S <= ts < DROP_UNTIL_S:
            kept = tuple(d for d in result.detections if not on_him(d.box))
            result = DetectionResult(kept, result.inference_ms)
        frame = Frame("walkway", index, ts, T0 + ts, image)
        events += [r for r in processor.process(frame, result) if isinstance(r, Event)]
    cap.release()
    events += [r for r in processor.finish(T0 + ts) if isinstance(r, Event)]
    return events


def on_him_from(events: list[Event], from_s: float) -> list[Event]:
    """Messages whose box is where he stands, sent from `from_s` seconds of video on."""
    return [e for e in events if on_him(e.track.box) and e.ts_wall - T0 >= from_s]


def test_standing_person_lost_by_the_detector_stays_one_event() -> None:
    """With re-id, one event covers him from before the 4 s dropout to after it: started before, updated or
    ended on him after the gap under the same event_id, and no new event starts where he stands."""
    events = run(reid=True)
    near = on_him_from(events, DROP_FROM_S - 1.0)
    assert len({e.event_id for e in near}) == 1, [(e.kind, e.event_id, e.ts_wall - T0) for e in near]
    his = near[0].event_id
    (start,) = [e for e in events if e.event_id == his and e.kind is EventKind.START]
    assert start.ts_wall - T0 < DROP_FROM_S
    assert [e for e in near if e.kind is EventKind.START] == []
    after_gap = [e for e in near if e.ts_wall - T0 >= DROP_UNTIL_S]
    assert after_gap, "nothing published on him after the gap"
    (end,) = [e for e in events if e.event_id == his and e.kind is EventKind.END]
    assert end.end_ts is not None
    assert end.end_ts - T0 >= DROP_UNTIL_S  # seen again after the gap, under the same event


def test_without_reid_the_same_dropout_splits_his_event() -> None:
    """The control: without re-id the same input gives him an end and then a new start after the gap."""
    events = run(reid=False)
    near = on_him_from(events, DROP_FROM_S - 1.0)
    assert len({e.event_id for e in near}) >= 2
    assert any(e.kind is EventKind.END for e in near)
    assert any(e.kind is EventKind.START and e.ts_wall - T0 >= DROP_UNTIL_S for e in near)
