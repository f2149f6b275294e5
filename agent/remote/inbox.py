"""The queue of remote-config requests between paho's network thread (`put`) and the thread that
applies them (`take_all`), bounded by payload bytes rather than by count. A request that does not
fit is kept as an `Overflow` (its salvaged request_id) so it is answered rejected, never dropped."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from agent.remote.protocol import RequestKind, salvage_request_id

MAX_OVERFLOW_ANSWERS = 4096  # rejections waiting to be sent; beyond it only a counter grows


@dataclass(frozen=True, slots=True)
class ConfigRequest:
    kind: RequestKind
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Overflow:
    """A request that arrived while the inbox was full: answered rejected with this request_id."""

    topic: str
    request_id: str | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Taken:
    requests: tuple[ConfigRequest, ...]
    overflows: tuple[Overflow, ...]
    unanswered: int  # overflows beyond MAX_OVERFLOW_ANSWERS since the last take (logged and counted)


class ConfigInbox:
    """Thread-safe; `put` never blocks and never parses beyond a request_id salvage."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._requests: deque[ConfigRequest] = deque()
        self._overflows: deque[Overflow] = deque()
        self._bytes = 0
        self._unanswered = 0
        self.rejected_full = 0  # total requests turned away because the inbox was full
        self.unanswered_total = 0

    def put(self, request: ConfigRequest) -> bool:
        """Queue `request`; False when it would exceed max_bytes (then it is kept as an Overflow)."""
        size = len(request.payload)
        with self._lock:
            if self._bytes + size <= self.max_bytes or not self._requests:
                self._requests.append(request)
                self._bytes += size
                return True
            self.rejected_full += 1
            if len(self._overflows) < MAX_OVERFLOW_ANSWERS:
                self._overflows.append(Overflow(request.topic, salvage_request_id(request.payload), size))
            else:
                self._unanswered += 1
                self.unanswered_total += 1
            return False

    def take_all(self) -> Taken:
        """Everything waiting, in arrival order, and the inbox emptied."""
        with self._lock:
            taken = Taken(tuple(self._requests), tuple(self._overflows), self._unanswered)
            self._requests.clear()
            self._overflows.clear()
            self._bytes = 0
            self._unanswered = 0
        return taken

    @property
    def pending_bytes(self) -> int:
        with self._lock:
            return self._bytes


__all__ = ["ConfigInbox", "ConfigRequest", "Overflow", "Taken"]
