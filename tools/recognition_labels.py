"""Makes the hand-labelling material of the recognition evaluation (tests/data/recognition/): detector
proposals of cars on the intersection video and numbered contact sheets of their crops, and contact
sheets of the fixed walkway region of the pedestrian video. A person then labels the sheets by eye.

`python tools/recognition_labels.py objects OUT_DIR` / `states OUT_DIR`. Main thread only."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS.parent))

from agent.config.schema import ModelConfig  # noqa: E402
from agent.detect.detector import ModelDetector  # noqa: E402
from agent.geometry import iou  # noqa: E402
from agent.types import BBox  # noqa: E402
from tests.support.recognition_data import (  # noqa: E402
    STATE_REGION,
    read_frames,
)

ASSETS = TOOLS.parent.parent / "shared" / "assets"
TRAFFIC = ASSETS / "videos" / "traffic_intersection_cctv_640x480.mp4"
PEDESTRIANS = ASSETS / "videos" / "pedestrians_vtest.avi"
SSD = ASSETS / "models" / "ssd_mobilenet_v1_coco_uint8_300.tflite"
SSD_LABELS = ASSETS / "models" / "ssd_mobilenet_v1_coco_uint8_300.labels.txt"
OBJECT_STEP_FRAMES = 2
MIN_SIDE_PX = 24
SAME_PLACE_IOU = 0.7  # a box overlapping an earlier kept box this much is the same (parked or queued) car again
TILE_PX = 112
SHEET_COLUMNS = 10
SHEET_ROWS = 8


def propose_objects(out: Path) -> None:
    """Run the agent's SSD on every 5th frame; keep car boxes not seen at the same place before."""
    detector = ModelDetector(SSD, SSD_LABELS, ModelConfig(path=str(SSD), min_score=0.4, threads=2))
    kept: list[tuple[int, BBox]] = []
    frames = read_frames(TRAFFIC, range(0, 909, OBJECT_STEP_FRAMES))
    for frame_no, image in frames.items():
        for det in detector.detect(image).detections:
            box = det.box
            if det.label != "car" or min(box.width, box.height) < MIN_SIDE_PX:
                continue
            if any(iou(box, other) > SAME_PLACE_IOU for _, other in kept):
                continue
            kept.append((frame_no, BBox(round(box.x1), round(box.y1), round(box.x2), round(box.y2))))
    with (out / "object_proposals.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "frame", "x1", "y1", "x2", "y2"])
        for i, (frame_no, b) in enumerate(kept):
            writer.writerow([i, frame_no, int(b.x1), int(b.y1), int(b.x2), int(b.y2)])
    crops = [frames[f][int(b.y1) : int(b.y2), int(b.x1) : int(b.x2)] for f, b in kept]
    write_sheets(crops, out / "objects")
    print(f"{len(kept)} proposals in {out}")


def sheet_states(out: Path, step: int) -> None:
    """Numbered crops of the walkway region at every `step`-th frame."""
    x1, y1, x2, y2 = STATE_REGION
    frames = read_frames(PEDESTRIANS, range(0, 795, step))
    crops = [image[y1:y2, x1:x2] for image in frames.values()]
    whole = next(iter(frames.values())).copy()
    cv2.rectangle(whole, (x1, y1), (x2, y2), (0, 0, 255), 2)
    cv2.imwrite(str(out / "state_region.jpg"), whole)
    write_sheets(crops, out / "states", numbers=list(frames))
    print(f"{len(crops)} region crops (frames 0..794 step {step}) in {out}")


def write_sheets(crops: list[npt.NDArray[np.uint8]], prefix: Path, numbers: list[int] | None = None) -> None:
    per_sheet = SHEET_COLUMNS * SHEET_ROWS
    for start in range(0, len(crops), per_sheet):
        sheet = np.full((SHEET_ROWS * TILE_PX, SHEET_COLUMNS * TILE_PX, 3), 40, np.uint8)
        for k, crop in enumerate(crops[start : start + per_sheet]):
            r, c = divmod(k, SHEET_COLUMNS)
            tile = cv2.resize(crop, (TILE_PX - 4, TILE_PX - 18), interpolation=cv2.INTER_AREA)
            sheet[r * TILE_PX + 16 : r * TILE_PX + TILE_PX - 2, c * TILE_PX + 2 : c * TILE_PX + TILE_PX - 2] = tile
            label = str(numbers[start + k] if numbers else start + k)
            cv2.putText(sheet, label, (c * TILE_PX + 4, r * TILE_PX + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
        cv2.imwrite(f"{prefix}_{start // per_sheet:02d}.png", sheet)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("objects", "states"))
    parser.add_argument("out", type=Path)
    parser.add_argument("--step", type=int, default=4, help="states: frame step")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.task == "objects":
        propose_objects(args.out)
    else:
        sheet_states(args.out, args.step)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
