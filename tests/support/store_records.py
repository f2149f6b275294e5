"""Records for the event store tests: events of one person and snapshot jobs cut from a real photo,
and `python -m tests.support.store_records <state_dir>`, a writer fed without end (for kill -9 tests).
Test thread (or that subprocess) only."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from agent.config.outputs import SnapshotConfig
from agent.config.web import StorageConfig
from agent.records import SnapshotJob
from agent.store.writer import EventStore, store_root
from agent.types import BBox, Event, EventKind, Track, TrackState
from tests.support.photos import ASTRONAUT_PERSON, photo

CAMERA = "cam1"


def person_event(event_id: str, kind: EventKind, start_ts: float, end_ts: float | None = None) -> Event:
    track = Track(1, "person", ASTRONAUT_PERSON, 0.9, TrackState.CONFIRMED, start_ts, start_ts, 5)
    return Event(
        kind=kind,
        event_id=event_id,
        camera=CAMERA,
        track=track,
        top_score=0.9,
        current_zones=("door",),
        entered_zones=("door",),
        start_ts=start_ts,
        ts_wall=end_ts if end_ts is not None else start_ts,
        end_ts=end_ts,
    )


def snapshot_job(event_id: str, ts_wall: float, box: BBox = ASTRONAUT_PERSON) -> SnapshotJob:
    image = photo("astronaut")
    return SnapshotJob(CAMERA, "person", event_id, image, box, 0.9, ts_wall)


def feed_one(store: EventStore, event_id: str, start_ts: float) -> None:
    """A whole event as the pipeline sends it: snapshot job first, then start, then end."""
    store.accept(snapshot_job(event_id, start_ts))
    store.accept(person_event(event_id, EventKind.START, start_ts))
    store.accept(person_event(event_id, EventKind.END, start_ts, start_ts + 1.0))


def feed_forever(state_dir: Path) -> None:
    """Events as fast as the writer takes them, pruning every 0.05 s to 0.3 MB: killed from outside."""
    config = StorageConfig(enabled=True, max_mb=0.3, prune_interval_s=0.05)
    store = EventStore(store_root(state_dir), config, SnapshotConfig())
    store.start()
    print("ready", flush=True)
    n = 0
    started_ts = time.time()
    while True:
        if store.written < n * 3 - 30:  # keep the queue short: a drop would only slow the test down
            time.sleep(0.001)
            continue
        feed_one(store, f"ev{n:06d}", started_ts + n)
        n += 1


if __name__ == "__main__":
    feed_forever(Path(sys.argv[1]))
