"""Appearance galleries of tracks and the re-entry match of a new track against lost ones.

Pure: embeddings come in as data (agent.reid computes them on the analytics thread); called by
agent.core.track.tracker.Tracker, so one per camera."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from agent.types import Embedding


class Gallery:
    """The last `size` L2-normalised embeddings of one track."""

    __slots__ = ("_vectors",)

    def __init__(self, size: int) -> None:
        self._vectors: deque[Embedding] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._vectors)

    def add(self, embedding: Embedding) -> None:
        self._vectors.append(embedding)

    def extend(self, other: Gallery) -> None:
        self._vectors.extend(other._vectors)

    def distance(self, embedding: Embedding) -> float:
        """Least cosine distance (1 - cos) of `embedding` to any vector held; 2.0 when empty."""
        if not self._vectors:
            return 2.0
        sims = np.stack(self._vectors) @ embedding
        return float(1.0 - np.max(sims))


def pair_by_distance(distances: Sequence[Sequence[float]], max_distance: float) -> list[tuple[int, int]]:
    """(row, col) pairs taken greedily by smallest distance at most `max_distance`, each row and col once."""
    cells = sorted((d, r, c) for r, row in enumerate(distances) for c, d in enumerate(row) if d <= max_distance)
    rows: set[int] = set()
    cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, r, c in cells:
        if r not in rows and c not in cols:
            rows.add(r)
            cols.add(c)
            pairs.append((r, c))
    return pairs
