"""Runtime toggles over MQTT: `<camera>/detect/set` and `<camera>/snapshots/set` in, the retained
`<camera>/<toggle>/state` out, persisted in `<state_dir>/toggles.json`.

`on_set` runs on paho's network thread: it only flips the camera's CameraToggles (which the
pipeline reads on its next frame) and notes the change. Everything else runs on the config thread
(agent.remote.worker), the one that also applies configs, so `_overrides` needs no lock: cameras are
attached as they start, and `process_pending` publishes each change's state and saves the file. The
main thread only calls it before the config thread starts and after it has stopped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Protocol

from agent.publish.messages import OutboundMessage, encode_retained_clear, encode_toggle_state
from agent.publish.topics import Topics
from agent.storage.health import StorageHealth
from agent.toggles.state import CameraToggles, Toggle, ToggleStates, parse_switch
from agent.toggles.store import load_toggles, save_toggles, toggles_path

log = logging.getLogger(__name__)

WARN_INTERVAL_S = 10.0  # at most one warning per interval about ignored commands; the rest are counted
SHOWN_PAYLOAD_BYTES = 32


class MessageHandler(Protocol):
    def __call__(self, topic: str, payload: bytes) -> None: ...


Send = Callable[[OutboundMessage], None]
Subscribe = Callable[[str, MessageHandler], None]


class ToggleController:
    """One per agent: the live toggles of every running camera and what was set over MQTT."""

    def __init__(
        self, state_dir: Path, send: Send, snapshots_available: bool, storage: StorageHealth | None = None
    ) -> None:
        self._path = toggles_path(state_dir)
        self._storage = storage  # counts and logs a failed save (a full state_dir)
        self._send = send
        self._snapshots_available = snapshots_available  # False: snapshots.enabled is off in the config
        self._overrides = load_toggles(self._path)  # config thread only (see the module docstring)
        self._lock = threading.Lock()  # guards _cameras and _pending (paho thread vs config thread)
        self._cameras: dict[str, CameraToggles] = {}
        self._pending: set[tuple[str, Toggle]] = set()
        self._topics: Topics | None = None
        self._subscribed: set[str] = set()
        self._next_warning_mono = 0.0
        self._unwarned = 0
        self.ignored = 0  # commands ignored since start (bad payload, unknown camera, unavailable)

    # --- config thread -------------------------------------------------------------------
    def use_topics(self, topics: Topics, subscribe: Subscribe) -> None:
        """Listen on `topics`' set topics: at start, and again after a topic prefix change."""
        self._topics = topics
        for toggle in Toggle:
            topic_filter = topics.toggle_set_filter(toggle)
            if topic_filter not in self._subscribed:
                subscribe(topic_filter, self.on_set)
                self._subscribed.add(topic_filter)

    def attach(self, camera: str) -> CameraToggles:
        """The toggles of a camera that starts (the same object across its restarts); publishes its states."""
        with self._lock:
            toggles = self._cameras.get(camera)
            if toggles is None:
                toggles = self._cameras[camera] = CameraToggles(self._initial(camera))
        for toggle in Toggle:
            self._send(encode_toggle_state(self._current_topics(), camera, toggle, toggles.states.value(toggle)))
        return toggles

    def detach(self, camera: str) -> None:
        """A camera stopped running (removed, or disabled): its retained states are cleared.
        What was set for it stays persisted until the config no longer has it (forget_missing)."""
        self.process_pending()
        with self._lock:
            self._cameras.pop(camera, None)
        for toggle in Toggle:
            self._send(encode_retained_clear(self._current_topics().toggle_state(camera, toggle)))

    def forget_missing(self, cameras: Collection[str]) -> None:
        """Drop what was set for cameras the config no longer has (at start and after every reconcile)."""
        gone = [camera for camera in self._overrides if camera not in cameras]
        for camera in gone:
            del self._overrides[camera]
        if gone:
            log.info("forgot the runtime toggles of removed cameras: %s", ", ".join(sorted(gone)))
            self._save()

    def process_pending(self) -> None:
        """Publish the state of every toggle set since the last call and persist them."""
        with self._lock:
            pending, self._pending = self._pending, set()
            cameras = dict(self._cameras)
        changed = False
        for camera, toggle in sorted(pending):
            toggles = cameras.get(camera)
            if toggles is None:
                continue  # detached meanwhile
            on = toggles.states.value(toggle)
            self._overrides.setdefault(camera, {})[toggle] = on
            self._send(encode_toggle_state(self._current_topics(), camera, toggle, on))
            log.info("camera %s: %s switched %s over MQTT", camera, toggle.value, "ON" if on else "OFF")
            changed = True
        if changed:
            self._save()

    def _initial(self, camera: str) -> ToggleStates:
        """The config's defaults (every feature ON as configured), then what was set over MQTT."""
        states = ToggleStates(detect=True, snapshots=self._snapshots_available)
        for toggle, on in self._overrides.get(camera, {}).items():
            states = states.with_value(toggle, on)
        return states if self._snapshots_available else states.with_value(Toggle.SNAPSHOTS, False)

    def _save(self) -> None:
        try:
            save_toggles(self._path, self._overrides)
        except OSError as exc:
            if self._storage is None:
                log.warning("cannot save runtime toggles to %s (%s): they apply until the agent stops", self._path, exc)
            else:
                self._storage.write_failed(self._path, exc, "the runtime toggles apply until the agent stops")

    def _current_topics(self) -> Topics:
        if self._topics is None:
            raise RuntimeError("ToggleController.use_topics() must be called before cameras are attached")
        return self._topics

    # --- paho's network thread -------------------------------------------------------------
    def on_set(self, topic: str, payload: bytes) -> None:
        """An operator's `<camera>/<toggle>/set`: flip the value the pipeline reads; never blocks."""
        match = self._match(topic)
        if match is None:
            return  # a topic of an earlier prefix still subscribed
        camera, toggle = match
        on = parse_switch(payload)
        if on is None:
            self._ignore(topic, payload, "the payload must be ON or OFF")
            return
        if toggle is Toggle.SNAPSHOTS and on and not self._snapshots_available:
            self._ignore(topic, payload, "snapshots are disabled in the config (snapshots.enabled: false)")
            return
        with self._lock:
            toggles = self._cameras.get(camera)
            if toggles is not None:
                toggles.set(toggle, on)
                self._pending.add((camera, toggle))
        if toggles is None:
            self._ignore(topic, payload, f"no camera {camera!r} is running")

    def _match(self, topic: str) -> tuple[str, Toggle] | None:
        topics = self._topics
        if topics is None:
            return None
        for toggle in Toggle:
            camera = topics.camera_of_toggle_set(topic, toggle)
            if camera is not None:
                return camera, toggle
        return None

    def _ignore(self, topic: str, payload: bytes, reason: str) -> None:
        """Count an ignored command; warn about it unless a warning went out within WARN_INTERVAL_S."""
        self.ignored += 1
        now = time.monotonic()
        if now < self._next_warning_mono:
            self._unwarned += 1
            return
        self._next_warning_mono = now + WARN_INTERVAL_S
        earlier = f" ({self._unwarned} more ignored since the last warning)" if self._unwarned else ""
        self._unwarned = 0
        shown = payload[:SHOWN_PAYLOAD_BYTES]
        log.warning("ignoring %r on %s: %s%s", shown, topic, reason, earlier)
