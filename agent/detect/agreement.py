"""How well one detector's detections reproduce a reference detector's on the same frames: per label,
the share of reference detections matched by a detection of the same label at IoU >= 0.5 (recall of
the reference). Pure; used by `edge-agent models quantize` (int8 against fp32) and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.geometry import boxes_to_array, iou_matrix
from agent.types import Detection

MATCH_IOU = 0.5


@dataclass(frozen=True, slots=True)
class LabelAgreement:
    label: str
    reference: int  # detections of the reference detector
    matched: int  # of those, found by the other detector

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else 1.0


def _matched(reference: Sequence[Detection], other: Sequence[Detection], min_iou: float) -> int:
    """Greedy one-to-one matching, best reference score first, each to its best remaining IoU."""
    if not reference or not other:
        return 0
    ordered = sorted(reference, key=lambda d: -d.score)
    ious = iou_matrix(boxes_to_array([d.box for d in ordered]), boxes_to_array([d.box for d in other]))
    taken: set[int] = set()
    matched = 0
    for row in ious:
        free = [(value, j) for j, value in enumerate(row) if j not in taken and value >= min_iou]
        if free:
            taken.add(max(free)[1])
            matched += 1
    return matched


def agreement(
    reference: Sequence[Sequence[Detection]], other: Sequence[Sequence[Detection]], min_iou: float = MATCH_IOU
) -> tuple[LabelAgreement, ...]:
    """Per label of the reference (most detections first), over frames given in the same order."""
    totals: dict[str, list[int]] = {}
    for ref_frame, other_frame in zip(reference, other, strict=True):
        for label in {d.label for d in ref_frame}:
            mine = [d for d in ref_frame if d.label == label]
            theirs = [d for d in other_frame if d.label == label]
            counts = totals.setdefault(label, [0, 0])
            counts[0] += len(mine)
            counts[1] += _matched(mine, theirs, min_iou)
    rows = [LabelAgreement(label, ref, matched) for label, (ref, matched) in totals.items()]
    return tuple(sorted(rows, key=lambda r: (-r.reference, r.label)))


def overall(rows: Sequence[LabelAgreement]) -> LabelAgreement:
    """Every label together."""
    return LabelAgreement("all", sum(r.reference for r in rows), sum(r.matched for r in rows))
