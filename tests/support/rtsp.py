"""A real RTSP server (tools/rtsp_server.py under Debian's /usr/bin/python3) for tests.

It serves a looping video file or a test pattern on a free port. It can be stopped
and started again on the same port, or paused with SIGSTOP to make a stream hang.
A missing GStreamer RTSP stack fails under CI=true and skips elsewhere."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.assets import REPO_ROOT
from tests.support.broker import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = REPO_ROOT / "tools" / "rtsp_server.py"
READY_TIMEOUT_S = 20.0
GST_CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
    "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
    "missing = [n for n in ('x264enc', 'rtph264pay', 'decodebin', 'intervideosink', 'videotestsrc')"
    " if Gst.ElementFactory.find(n) is None]; print(' '.join(missing))"
)


def require_rtsp() -> None:
    """Fail under CI, skip elsewhere, unless /usr/bin/python3 has GstRtspServer and the plugins we use."""
    problem = None
    if not Path(SYSTEM_PYTHON).exists():
        problem = f"{SYSTEM_PYTHON} not found"
    else:
        check = subprocess.run([SYSTEM_PYTHON, "-c", GST_CHECK], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            problem = "python3-gi / gir1.2-gst-rtsp-server-1.0 missing: " + check.stderr.strip().splitlines()[-1]
        elif check.stdout.strip():
            problem = f"GStreamer elements missing: {check.stdout.strip()} (gstreamer1.0-plugins-ugly/-bad/-libav)"
    if problem is None:
        return
    message = f"RTSP test server unavailable: {problem}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class RtspServer:
    """One tools/rtsp_server.py subprocess; `file` or `pattern` picks what it serves."""

    workdir: Path
    file: Path | None = None
    pattern: str = "ball"
    fps: int = 10
    width: int = 320
    height: int = 240
    mount: str = "/cam"
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def command(self) -> list[str]:
        what = ["--file", str(self.file)] if self.file is not None else ["--pattern", self.pattern]
        size = ["--fps", str(self.fps), "--width", str(self.width), "--height", str(self.height)]
        return [SYSTEM_PYTHON, str(SERVER_SCRIPT), *what, "--port", str(self.port), "--mount", self.mount, *size]

    def start(self) -> None:
        """Start serving (on the same port as before, after a stop) and wait for READY."""
        log = (self.workdir / "rtsp_server.log").open("a")
        self._proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, text=True)
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + READY_TIMEOUT_S
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = self._proc.stdout.readline()
                    if line.startswith("READY "):
                        return
                    if not line:
                        break
        self.stop()
        raise RuntimeError(f"RTSP server did not become ready: {(self.workdir / 'rtsp_server.log').read_text()}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.resume()
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the server process (SIGSTOP): connections stay open but no data flows."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
