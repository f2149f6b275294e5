"""The invoke thread: the only thread that touches an interpreter.

Its detector thread prepares inputs (claim, motion gate, resize) and decodes outputs; this thread
only copies a prepared input in, invokes, and copies the outputs out, in the order it was given.
So the interpreter starts its next invoke as soon as the last one ends, while the detector thread
does everything else around it. One per interpreter (model.interpreters)."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from agent.detect import Detector, InputBuffer, InvokeOutput
from agent.pipeline.wake import WakeSignal

IDLE_WAIT_S = 0.5  # longest wait for work, so the heartbeat stays fresh while nothing arrives


@dataclass(frozen=True, slots=True)
class InvokeDone:
    """The outcome of one prepared input: the outputs, or what the invoke raised."""

    output: InvokeOutput | None
    error: Exception | None


class InvokeThread(threading.Thread):
    """Invokes one detector on prepared inputs, first in first out."""

    def __init__(self, name: str, detector: Detector, wake: WakeSignal) -> None:
        super().__init__(name=name, daemon=True)
        self.detector = detector
        self._wake = wake  # set after every invoke, so the detector thread collects the result
        self._inputs: queue.SimpleQueue[InputBuffer | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[InvokeDone] = queue.SimpleQueue()
        self.heartbeat_mono = time.monotonic()

    def submit(self, buffer: InputBuffer) -> None:
        """Queue a prepared input. The caller must not write to `buffer` until its result is taken."""
        self._inputs.put(buffer)

    def take(self, timeout_s: float | None = 0.0) -> InvokeDone | None:
        """The oldest finished invoke, or None if none finished within `timeout_s` (0: do not wait)."""
        try:
            if timeout_s == 0.0:
                return self._done.get_nowait()
            return self._done.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop after the inputs already submitted."""
        self._inputs.put(None)

    def run(self) -> None:
        while True:
            self.heartbeat_mono = time.monotonic()
            try:
                buffer = self._inputs.get(timeout=IDLE_WAIT_S)
            except queue.Empty:
                continue
            if buffer is None:
                return
            self.heartbeat_mono = time.monotonic()
            try:
                done = InvokeDone(self.detector.invoke_prepared(buffer), None)
            except Exception as exc:  # handed to the detector thread, which counts and logs it
                done = InvokeDone(None, exc)
            self._done.put(done)
            self._wake.set()
