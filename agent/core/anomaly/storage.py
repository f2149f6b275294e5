"""The device-level `storage` anomaly: state_dir out of space, or outbox rows lost to corruption.

Pure: the supervisor (main thread) passes in what the publisher reports and the wall time,
and sends what comes back. The camera is `_device`, as the anomaly is not about a camera."""

from __future__ import annotations

from agent.core.anomaly.common import IdFactory
from agent.publish.outbox_ledger import Recovery
from agent.types import Anomaly, Severity, StorageView

KIND = "storage"
DEVICE_CAMERA = "_device"


def outbox_loss(recovery: Recovery, ts_wall: float, ids: IdFactory) -> Anomaly:
    """A one-shot critical anomaly saying how many undelivered messages the outbox lost, and why."""
    details: dict[str, float | str] = {"problem": "outbox_lost", "lost": recovery.lost, "reason": recovery.reason}
    if recovery.moved_to is not None:
        details["moved_to"] = str(recovery.moved_to)
    return Anomaly(ids(), KIND, DEVICE_CAMERA, Severity.CRITICAL, True, ts_wall, details=details)


class FullDisk:
    """Active while writes under state_dir fail for lack of space; resolved when they succeed again.

    Sampled once per stats interval, so it goes by the failures since the last call as well as the
    current state: on a full disk a small write that still fits clears `degraded` between failures,
    and a sample that landed in such a gap would otherwise never see the disk full."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._active: Anomaly | None = None
        self._failures_seen = 0

    def update(self, view: StorageView, unstored: int, ts_wall: float) -> Anomaly | None:
        """The anomaly's change, if the storage state changed since the last call."""
        failed_since_last = view.write_failures > self._failures_seen
        self._failures_seen = view.write_failures
        full = view.degraded or failed_since_last
        if full and self._active is None:
            details: dict[str, float | str] = {
                "problem": "full",
                "free_bytes": -1 if view.free_bytes is None else view.free_bytes,
                "write_failures": view.write_failures,
                "unstored": unstored,
            }
            self._active = Anomaly(self._ids(), KIND, DEVICE_CAMERA, Severity.CRITICAL, True, ts_wall, details=details)
            return self._active
        if not full and self._active is not None:
            active, self._active = self._active, None
            resolved = dict(active.details, write_failures=view.write_failures, unstored=unstored)
            return Anomaly(
                active.anomaly_id, KIND, DEVICE_CAMERA, active.severity, False, active.started_ts, ts_wall, resolved
            )
        return None
