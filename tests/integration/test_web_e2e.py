"""The event store, clips, HTTP API and web page end to end: the real agent analyses the shared walkway
video and a clip with one known person visit (real photos), with a real broker, storage and http on;
the API is read over HTTP, clips are decoded with PyAV, and the page is driven in Debian's Chromium.

One module-scoped agent run feeds every test; a third camera (a still clip in real time) keeps the
agent serving after both files have ended."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from tests.support import assets
from tests.support.agent_process import AgentProcess, base_config, write_config
from tests.support.broker import MosquittoBroker, free_port
from tests.support.clips import VisitClip, write_still_clip, write_visit_clip
from tests.support.web_client import WebClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PRE_ROLL_S = 3.0
POST_ROLL_S = 5.0
DETECT_FPS = 5.0
FRAME_S = 1.0 / DETECT_FPS
RUN_TIMEOUT_S = 200.0
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_ENV = "EDGE_AGENT_WEB_SCREENSHOT"  # a path: the page test saves its screenshot there
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web-page.png"


@dataclass(frozen=True, slots=True)
class WebRun:
    client: WebClient
    agent: AgentProcess
    visit: VisitClip
    tmp: Path


@pytest.fixture(scope="module")
def web_run(broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebRun]:
    tmp = tmp_path_factory.mktemp("web")
    visit = write_visit_clip(tmp / "visit.avi")
    still = write_still_clip(assets.video(assets.TRAFFIC), tmp / "still.avi", width_px=160, fps=2.0, frames=1200)
    port = free_port()
    cameras = {
        "walkway": {"source": str(assets.video(assets.PEDESTRIANS)), "realtime": False, "objects": ["person"]},
        "visit": {"source": str(visit.path), "realtime": False, "objects": ["person"], "detect_fps": DETECT_FPS},
        "still": {"source": str(still), "objects": ["person"], "detect_fps": 2.0},
    }
    config = base_config(
        tmp,
        broker,
        f"web-{uuid.uuid4().hex[:8]}",
        cameras,
        storage={"enabled": True, "clips": {"pre_roll_s": PRE_ROLL_S, "post_roll_s": POST_ROLL_S}},
        http={"enabled": True, "port": port},
    )
    agent = AgentProcess(write_config(tmp / "agent.yaml", config))
    client = WebClient(f"http://127.0.0.1:{port}")
    try:
        # Both files analysed: each has an ended person event with a clip (a clip closes after its
        # post-roll, or when the file ends).
        for camera in ("walkway", "visit"):
            client.wait_json(
                f"/api/events?camera={camera}&limit=500",
                lambda events: any(e["has_clip"] and e["end_ts"] is not None for e in events),
                RUN_TIMEOUT_S,
            )
        yield WebRun(client, agent, visit, tmp)
    finally:
        agent.terminate()
        agent.close()


def clip_of(run: WebRun, event: dict[str, Any]) -> Path:
    reply = run.client.request(f"/api/events/{event['id']}/clip.mp4")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "video/mp4"
    path = run.tmp / f"{event['id']}.mp4"
    path.write_bytes(reply.body)
    return path


def decoded_span_s(path: Path) -> tuple[str, int, float]:
    """(codec, frames decoded, seconds from the first frame's time to the last's)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(frame.time) for frame in container.decode(stream) if frame.time is not None]
        return stream.codec_context.name, len(times), max(times) - min(times)


def test_person_event_has_snapshot_and_clip(web_run: WebRun) -> None:
    """A walkway person event is listed newest first with a decodable snapshot and an H.264 clip that
    PyAV decodes, spans what the store says, and covers the event."""
    events = web_run.client.json("/api/events?camera=walkway&label=person&limit=500")
    assert [e["start_ts"] for e in events] == sorted((e["start_ts"] for e in events), reverse=True)
    assert set(events[0]) >= {"id", "camera", "label", "sub_label", "start_ts", "end_ts", "has_snapshot", "has_clip"}
    event = next(e for e in events if e["has_clip"] and e["has_snapshot"] and e["end_ts"] is not None)
    jpeg = web_run.client.request(f"/api/events/{event['id']}/snapshot.jpg")
    assert jpeg.status == 200
    image = cv2.imdecode(np.frombuffer(jpeg.body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[0] >= 100
    codec, frames, span_s = decoded_span_s(clip_of(web_run, event))
    assert codec == "h264"
    assert frames >= 10
    assert abs(span_s - (event["clip_end_ts"] - event["clip_start_ts"])) <= 2 * FRAME_S
    assert event["clip_start_ts"] <= event["start_ts"]
    assert event["clip_end_ts"] >= event["end_ts"]
    assert web_run.client.json(f"/api/events/{event['id']}")["id"] == event["id"]


def test_visit_clip_covers_event_plus_pre_and_post_roll(web_run: WebRun) -> None:
    """The known visit's clip starts pre_roll_s before its first event and ends post_roll_s after the
    last event ends, as decoded by PyAV (within one analysed frame)."""
    events = web_run.client.json("/api/events?camera=visit&limit=500")
    with_clip = [e for e in events if e["has_clip"]]
    assert with_clip
    first = min(with_clip, key=lambda e: e["start_ts"])
    same_clip = [e for e in with_clip if e["clip_start_ts"] == first["clip_start_ts"]]
    last_end = max(e["end_ts"] for e in same_clip)
    codec, _, span_s = decoded_span_s(clip_of(web_run, first))
    assert codec == "h264"
    expected_s = (last_end - first["start_ts"]) + PRE_ROLL_S + POST_ROLL_S
    assert span_s == pytest.approx(expected_s, abs=2 * FRAME_S)
    assert first["start_ts"] - first["clip_start_ts"] == pytest.approx(PRE_ROLL_S, abs=2 * FRAME_S)
    visit_s = web_run.visit.visit_s
    assert span_s >= visit_s * 0.8 + PRE_ROLL_S + POST_ROLL_S - 2 * FRAME_S


def test_range_request_serves_part_of_the_clip(web_run: WebRun) -> None:
    """A Range request gets 206 and exactly the bytes asked for, so <video> can seek."""
    event = next(e for e in web_run.client.json("/api/events?camera=visit") if e["has_clip"])
    whole = web_run.client.request(f"/api/events/{event['id']}/clip.mp4").body
    part = web_run.client.request(f"/api/events/{event['id']}/clip.mp4", headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.body == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"


def test_health_cameras_metrics_and_config(web_run: WebRun) -> None:
    """Health names cameras and the broker; /metrics is the Prometheus registry; /api/config hides no
    field but shows no secret; live pictures come as JPEG with no-store."""
    health = web_run.client.json("/healthz")
    assert health["status"] == "running"
    assert health["broker"]["connected"] is True
    assert set(health["cameras"]) == {"walkway", "visit", "still"}
    assert health["local"]["store_written"] > 0
    assert health["local"]["clips_written"] >= 2
    metrics = web_run.client.request("/metrics")
    assert metrics.status == 200
    assert b"edge_agent_camera_frames_total" in metrics.body
    assert b"process_resident_memory_bytes" in metrics.body
    config = web_run.client.json("/api/config")
    assert config["config"]["http"]["port"] > 0
    assert config["state"]["status"] == "applied"
    names = {c["name"]: c for c in web_run.client.json("/api/cameras")}
    assert names["still"]["online"] is True
    latest = web_run.client.request("/api/cameras/still/latest.jpg")
    assert latest.status == 200
    assert latest.headers["Cache-Control"] == "no-store"
    assert cv2.imdecode(np.frombuffer(latest.body, np.uint8), cv2.IMREAD_COLOR) is not None


def test_page_in_chromium_lists_events_and_plays_a_clip(web_run: WebRun) -> None:
    """In headless Chromium the page lists the person event, its snapshot loads, the live view shows a
    picture, and the clip plays (readyState >= 2 and currentTime advances)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install chromium (tools/setup.sh)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(web_run.client.base_url + "/")
            page.wait_for_selector(".event[data-label=person] img", timeout=20_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.event img')].some(i => i.complete && i.naturalWidth > 0)",
                timeout=20_000,
            )
            page.wait_for_function(
                "() => { const i = document.querySelector('#camera-still img'); return i && i.naturalWidth > 0; }",
                timeout=20_000,
            )
            page.select_option("#f-camera", "visit")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.event')].length > 0 && "
                "[...document.querySelectorAll('.event')].every(e => e.textContent.includes('visit'))",
                timeout=20_000,
            )
            page.locator(".event", has_text="▶").first.click()
            page.wait_for_function("() => document.querySelector('#clip').readyState >= 2", timeout=20_000)
            page.wait_for_function("() => document.querySelector('#clip').currentTime > 0.5", timeout=20_000)
            shot = Path(os.environ.get(SCREENSHOT_ENV, web_run.tmp / "web-page.png"))
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert errors == []
        finally:
            browser.close()


def test_mjpeg_streams_jpegs_and_releases_the_viewer(web_run: WebRun) -> None:
    """The MJPEG stream sends decodable JPEG parts; once the client goes, the agent stops counting it."""
    url = f"{web_run.client.base_url}/api/cameras/still/mjpeg"
    with urllib.request.urlopen(url, timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        parts = 0
        while parts < 2:
            line = stream.readline()
            if line.startswith(b"Content-Length:"):
                stream.readline()  # the blank line before the body
                jpeg = stream.read(int(line.split(b":")[1]))
                assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
                parts += 1
        assert web_run.client.json("/healthz")["live_viewers"] == 1
    web_run.client.wait_json("/healthz", lambda h: h["live_viewers"] == 0, 20.0)
