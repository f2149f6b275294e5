"""A camera source string is classified once: its kind, and the target that will be opened."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.config.schema import CameraConfig
from agent.config.sources import SourceKind, UnsupportedSource, classify_source, redact
from agent.errors import SourceError


@pytest.mark.parametrize(
    ("source", "kind", "target"),
    [
        ("0", SourceKind.V4L2, "0"),
        ("12", SourceKind.V4L2, "12"),
        ("/dev/video0", SourceKind.V4L2, "/dev/video0"),
        ("/dev//video0", SourceKind.V4L2, "/dev/video0"),
        (
            "/dev/v4l/by-id/usb-Logitech_C920-video-index0",
            SourceKind.V4L2,
            "/dev/v4l/by-id/usb-Logitech_C920-video-index0",
        ),
        ("rtsp://10.0.0.5:554/stream1", SourceKind.RTSP, "rtsp://10.0.0.5:554/stream1"),
        ("RTSP://user:pw@cam.local/live", SourceKind.RTSP, "RTSP://user:pw@cam.local/live"),
        ("rtsps://cam.example.com:322/s", SourceKind.RTSP, "rtsps://cam.example.com:322/s"),
        ("http://cam.local/mjpg/video.mjpg", SourceKind.HTTP, "http://cam.local/mjpg/video.mjpg"),
        ("https://example.com/live/index.m3u8", SourceKind.HTTP, "https://example.com/live/index.m3u8"),
        ("  rtsp://padded/stream  ", SourceKind.RTSP, "rtsp://padded/stream"),
        ("/var/lib/videos/yard.mp4", SourceKind.FILE, "/var/lib/videos/yard.mp4"),
        ("clips/yard.avi", SourceKind.FILE, "clips/yard.avi"),
        ("file:///var/lib/videos/yard.mp4", SourceKind.FILE, "/var/lib/videos/yard.mp4"),
        ("File:///var/lib/videos/../yard.mp4", SourceKind.FILE, "/var/lib/yard.mp4"),
        # Paths that look like devices or URLs but are files: they are opened as files, so they are files.
        ("/dev/../home/user/private.mp4", SourceKind.FILE, "/home/user/private.mp4"),
        ("/dev/video0/../../etc/shadow", SourceKind.FILE, "/etc/shadow"),
        ("/dev/sda", SourceKind.FILE, "/dev/sda"),
        ("//etc/shadow", SourceKind.FILE, "/etc/shadow"),
        ("/srv/a://b.mp4", SourceKind.FILE, "/srv/a:/b.mp4"),
        ("concat:/etc/shadow", SourceKind.FILE, "concat:/etc/shadow"),
    ],
)
def test_classify_source(source: str, kind: SourceKind, target: str) -> None:
    """Each source string maps to the backend that reads it and the exact string that backend opens."""
    classified = classify_source(source)
    assert (classified.kind, classified.target) == (kind, target)
    assert (classified.file_path is not None) is (kind is SourceKind.FILE)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("rtmp://host/live", "rtsp://"),
        ("udp://239.0.0.1:1234", "rtsp://"),
        ("ftp://host/clip.mp4", "rtsp://"),
        ("file://relative/clip.mp4", "absolute path"),
        ("/srv/clip\x00.mp4", "control characters"),
        ("   ", "empty"),
    ],
)
def test_unopenable_sources_are_refused(source: str, match: str) -> None:
    """A source no backend reads is refused with a message saying what is supported."""
    with pytest.raises(UnsupportedSource, match=match) as caught:
        classify_source(source)
    assert isinstance(caught.value, SourceError)


def test_schema_refuses_an_unsupported_source_at_the_field() -> None:
    """The config schema rejects such a source at load time, naming the field, not at capture time."""
    with pytest.raises(ValidationError) as caught:
        CameraConfig(source="ftp://host/clip.mp4")
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [("source",)]
    assert "unsupported camera source scheme 'ftp'" in errors[0]["msg"]


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5/s1", "rtsp://***@10.0.0.5/s1"),
        ("https://token@cams.example.com/a", "https://***@cams.example.com/a"),
        ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
        ("/dev/video0", "/dev/video0"),
    ],
)
def test_redact_hides_credentials(source: str, shown: str) -> None:
    """user:password@ never reaches a log line or error message."""
    assert redact(source) == shown
