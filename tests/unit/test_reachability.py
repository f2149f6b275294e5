"""agent.capture.reachability: the cause of a failed network camera open, found with a real TCP connect."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from agent.capture.reachability import address_of, explain_unreachable
from tests.support.broker import free_port


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://10.0.0.5/stream1", ("10.0.0.5", 554)),
        ("rtsps://cam.local/live", ("cam.local", 322)),
        ("http://user:secret@10.0.0.5:8080/video.mjpg", ("10.0.0.5", 8080)),
        ("https://cam.local/snap", ("cam.local", 443)),
        ("rtsp://[fe80::1]:8554/cam", ("fe80::1", 8554)),
        (" RTSP://Cam.Local:8554/x ", ("cam.local", 8554)),
        ("rtsp://cam.local:port/x", None),
        ("rtsp:///no-host", None),
        ("/dev/video0", None),
    ],
)
def test_address_is_the_urls_host_and_port_or_the_schemes_default(url: str, expected: tuple[str, int] | None) -> None:
    """Host and port come from the URL (credentials ignored), the port defaulting per scheme; no host gives None."""
    assert address_of(url) == expected


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_refused_port_is_named_with_the_systems_reason() -> None:
    """Nothing listening on the camera's port: the message names host:port and `Connection refused`."""
    port = free_port()
    assert explain_unreachable(f"rtsp://127.0.0.1:{port}/cam") == f"127.0.0.1:{port}: Connection refused"


def test_a_listening_port_points_at_the_stream_itself(listening_port: int) -> None:
    """The port accepts connections: the cause is the stream (path, credentials, codec), and the message says so."""
    reason = explain_unreachable(f"http://127.0.0.1:{listening_port}/video.mjpg")
    assert (
        reason
        == f"127.0.0.1:{listening_port} accepts connections: check the stream path, the credentials and the codec"
    )


def test_an_unknown_host_name_is_reported_as_not_resolving() -> None:
    """A host name that cannot resolve (the reserved .invalid domain) is said to not resolve."""
    reason = explain_unreachable("rtsp://camera.invalid/stream")
    assert reason is not None
    assert reason.startswith("host camera.invalid does not resolve: ")


def test_a_source_without_an_address_has_no_explanation() -> None:
    """A URL without a host gives None, so the caller's message stays as it was."""
    assert explain_unreachable("rtsp:///stream") is None
