"""Writes a batch run's records as JSON lines, one file per kind, in the MQTT payloads' schemas.

`events.jsonl`, `anomalies.jsonl`, `crossings.jsonl`, `states.jsonl` and `detections.jsonl` (optional: one line per
analysed frame with detections) hold exactly the payloads the MQTT sink publishes (docs/mqtt.md),
so one parser reads both. Counts and line totals are bare values on MQTT, named by their topic;
here each line names them: `counts.jsonl` {"camera", "label", "zone", "count", "ts"} (label null:
every object; zone null: the whole picture) and `lines.jsonl` {"camera", "line", "a_to_b", "b_to_a", "ts"}.

Runs on the analytics thread, and the state classifier's for state changes (writes are locked).
Writes are buffered (no fsync: a batch run can be repeated); the files are flushed and closed by `close()` after the pipeline has stopped."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TextIO

from agent.publish.sink import encode_record
from agent.publish.topics import Topics
from agent.records import CountChange, FrameDetections, LineTotals, Record, StateChange
from agent.types import Anomaly, Event, LineCrossing

KINDS = ("events", "anomalies", "crossings", "counts", "lines", "states", "detections")


class JsonLinesSink:
    """One `<kind>.jsonl` per record kind under `out_dir`, opened when its first record arrives."""

    def __init__(self, out_dir: Path, topics: Topics, detections: bool = False) -> None:
        self._out_dir = out_dir
        self._topics = topics
        self._detections = detections
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()
        self._last_ts = 0.0  # counts carry no time of their own: the latest frame's, as a reader expects
        self.lines_written = dict.fromkeys(KINDS, 0)

    def accept(self, record: Record) -> None:
        match record:
            case FrameDetections():
                self._last_ts = record.ts_wall
                if self._detections:
                    self._write_payload("detections", record)
            case Event():
                self._last_ts = max(self._last_ts, record.ts_wall)
                self._write_payload("events", record)
            case Anomaly():
                self._write_payload("anomalies", record)
            case LineCrossing():
                self._write_payload("crossings", record)
            case CountChange():
                obj = {"camera": record.camera, "label": record.label, "zone": record.zone, "count": record.count}
                self._write("counts", json.dumps({**obj, "ts": round(self._last_ts, 3)}))
            case StateChange():
                self._write_payload("states", record)
            case LineTotals():
                obj = {"camera": record.camera, "line": record.line, "a_to_b": record.a_to_b, "b_to_a": record.b_to_a}
                self._write("lines", json.dumps({**obj, "ts": round(self._last_ts, 3)}))
            case _:
                return  # motion, camera status and snapshot jobs are not part of the batch output

    def paths(self) -> dict[str, Path]:
        """The files written so far (open or closed), by kind."""
        return {kind: self._out_dir / f"{kind}.jsonl" for kind in KINDS if self.lines_written[kind]}

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _write_payload(self, kind: str, record: Record) -> None:
        message = encode_record(self._topics, record)
        if message is not None:
            self._write(kind, message.payload.decode("utf-8"))

    def _write(self, kind: str, line: str) -> None:
        with self._lock:  # the analytics thread, and the state classifier's for state changes
            handle = self._files.get(kind)
            if handle is None:
                self._out_dir.mkdir(parents=True, exist_ok=True)
                handle = self._files[kind] = (self._out_dir / f"{kind}.jsonl").open("w", encoding="utf-8")
            handle.write(line + "\n")
            self.lines_written[kind] += 1
