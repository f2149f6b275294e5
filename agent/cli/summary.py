"""What a subscriber received from one device, summed up: events per label, line totals,
anomalies by kind and the topics seen, with a ready `mosquitto_sub` line.

Pure (no I/O, no clock): tools/watch.py feeds it each message on paho's network thread and
renders it on its main thread after that thread has stopped (the end of the README demo)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

STATUS_OFFLINE = b"offline"


@dataclass(frozen=True, slots=True)
class LineTotal:
    a_to_b: int
    b_to_a: int
    crossings: int  # crossing messages received for this line


@dataclass(frozen=True, slots=True)
class Summary:
    base: str
    messages: int
    retained_skipped: int
    undecodable: int
    events_by_label: dict[str, int]
    lines: dict[str, LineTotal]  # "<camera>/<line>"
    anomalies_by_kind: dict[str, int]
    topics: dict[str, int]
    offline: bool


@dataclass(slots=True)
class SummaryBuilder:
    """Accumulates the live messages under `base` (`<prefix>/<device_id>`).

    Retained messages are state from before this subscriber connected (maybe an earlier run):
    they are counted as skipped, not summed."""

    base: str
    messages: int = 0
    retained_skipped: int = 0
    undecodable: int = 0
    offline: bool = False  # the device announced `offline` while we listened: it has stopped
    _event_labels: dict[str, str] = field(default_factory=dict)
    _anomaly_kinds: dict[str, str] = field(default_factory=dict)
    _line_totals: dict[str, tuple[int, int]] = field(default_factory=dict)
    _crossings: Counter[str] = field(default_factory=Counter)
    _topics: Counter[str] = field(default_factory=Counter)

    def add(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            self.retained_skipped += 1
            return
        self.messages += 1
        self._topics[topic] += 1
        rel = topic.removeprefix(self.base + "/")
        if rel == "status":
            self.offline = payload == STATUS_OFFLINE
        elif rel == "events" or rel == "anomalies" or rel.endswith("/crossing") or "/lines/" in rel:
            body = _decode(payload)
            if body is None:
                self.undecodable += 1
            else:
                self._add_json(rel, body)

    def _add_json(self, rel: str, body: dict[str, Any]) -> None:
        if rel == "events":
            self._event_labels.setdefault(str(body.get("event_id")), str(body.get("label")))
        elif rel == "anomalies":
            self._anomaly_kinds.setdefault(str(body.get("anomaly_id")), str(body.get("kind")))
        elif rel.endswith("/crossing"):
            self._crossings[_line_key(rel.removesuffix("/crossing"))] += 1
        else:
            self._line_totals[_line_key(rel)] = (int(body.get("a_to_b", 0)), int(body.get("b_to_a", 0)))

    def summary(self) -> Summary:
        keys = sorted(set(self._line_totals) | set(self._crossings))
        lines = {k: LineTotal(*self._line_totals.get(k, (0, 0)), self._crossings[k]) for k in keys}
        return Summary(
            base=self.base,
            messages=self.messages,
            retained_skipped=self.retained_skipped,
            undecodable=self.undecodable,
            events_by_label=dict(sorted(Counter(self._event_labels.values()).items())),
            lines=lines,
            anomalies_by_kind=dict(sorted(Counter(self._anomaly_kinds.values()).items())),
            topics=dict(sorted(self._topics.items())),
            offline=self.offline,
        )


def _decode(payload: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _line_key(rel: str) -> str:
    camera, _, line = rel.partition("/lines/")
    return f"{camera}/{line}"


def render(summary: Summary, host: str, port: int) -> str:
    """The summary as the demo prints it."""
    out = [
        f"summary of {summary.messages} messages from {summary.base}"
        f" ({summary.retained_skipped} retained from before skipped, {summary.undecodable} undecodable;"
        f" device {'offline' if summary.offline else 'still online'})",
        "events per label (distinct event_id):",
        *_rows(summary.events_by_label),
        "line totals (a_to_b / b_to_a from the last count; crossing messages received):",
        *[f"  {k:<40} {t.a_to_b:>5} / {t.b_to_a:<5} {t.crossings:>5} crossings" for k, t in summary.lines.items()],
        *([] if summary.lines else ["  (none)"]),
        "anomalies by kind (distinct anomaly_id):",
        *_rows(summary.anomalies_by_kind),
        "topics received (messages):",
        *_rows(summary.topics),
        f"subscribe: mosquitto_sub -h {host} -p {port} -v -t '{summary.base}/#'",
    ]
    return "\n".join(out)


def _rows(counts: dict[str, int]) -> list[str]:
    return [f"  {name:<48} {n:>6}" for name, n in counts.items()] or ["  (none)"]


__all__ = ["LineTotal", "Summary", "SummaryBuilder", "render"]
