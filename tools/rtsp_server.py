#!/usr/bin/python3
"""Test RTSP server: serves a looping video file or a test pattern as H.264 over RTSP.

Run with Debian's /usr/bin/python3 (packages python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-{base,good,bad,ugly}, gstreamer1.0-libav). Prints
"READY rtsp://HOST:PORT/MOUNT" once serving. Used by tests/support/rtsp.py.

File mode behaves like a live camera: a player pipeline decodes the file in real
time and seeks back to the start at every EOS; it feeds intervideosink, and the
shared RTSP media reads intervideosrc -> x264enc tune=zerolatency -> rtph264pay.
So clients join a stream in progress, and the file really loops."""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

CHANNEL = "rtsp-test-camera"


def raw_caps(args: argparse.Namespace) -> str:
    return f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1"


def encoder(args: argparse.Namespace) -> str:
    # One keyframe a second, so a client that joins mid-stream decodes within a second.
    return (
        f"videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} "
        f"bitrate={args.bitrate_kbps} ! rtph264pay name=pay0 pt=96 config-interval=1"
    )


def build_player(args: argparse.Namespace) -> Gst.Pipeline:
    """Decode the file at its own pace into the inter channel, looping at EOS."""
    launch = (
        "filesrc name=src ! decodebin ! videoconvert ! videoscale ! videorate ! "
        f"{raw_caps(args)} ! intervideosink name=sink channel={CHANNEL} sync=true"
    )
    pipeline = Gst.parse_launch(launch)
    pipeline.get_by_name("src").set_property("location", args.file)  # a property, never parsed
    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message::eos", lambda _bus, _msg: rewind(pipeline))
    bus.connect("message::error", lambda _bus, msg: fail(f"player error: {msg.parse_error()[0].message}"))
    return pipeline


def announce_after_first_frame(player: Gst.Pipeline, url: str) -> None:
    """Say READY once a decoded frame reaches the channel, so no client ever sees a blank start."""

    def on_buffer(_pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        GLib.idle_add(announce, url)
        return Gst.PadProbeReturn.REMOVE

    player.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)


def announce(url: str) -> bool:
    print(f"READY {url}", flush=True)
    return False  # run once


def rewind(pipeline: Gst.Pipeline) -> None:
    if not pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0):
        fail("could not seek back to the start of the file")


def fail(message: str) -> None:
    # os._exit: this also runs inside GLib callbacks, where SystemExit would be swallowed.
    print(f"ERROR {message}", file=sys.stderr, flush=True)
    os._exit(1)


def media_launch(args: argparse.Namespace) -> str:
    if args.file is not None:
        source = f"intervideosrc channel={CHANNEL} ! {raw_caps(args)}"
    else:
        source = f"videotestsrc is-live=true pattern={args.pattern} ! {raw_caps(args)}"
    return f"( {source} ! {encoder(args)} )"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", help="video file to serve in a loop")
    what.add_argument("--pattern", help="videotestsrc pattern name, e.g. ball, smpte, snow")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8554, help="TCP port to listen on")
    parser.add_argument("--mount", default="/cam", help="path of the stream, e.g. /cam")
    parser.add_argument("--fps", type=int, default=10, help="frames per second sent")
    parser.add_argument("--width", type=int, default=640, help="frame width sent")
    parser.add_argument("--height", type=int, default=480, help="frame height sent")
    parser.add_argument("--bitrate-kbps", type=int, default=1000, help="H.264 bitrate")
    args = parser.parse_args(argv)
    if not args.mount.startswith("/"):
        parser.error("--mount must start with /")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    Gst.init(None)
    loop = GLib.MainLoop()
    player = build_player(args) if args.file is not None else None

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(media_launch(args))
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        fail(f"cannot listen on {args.host}:{args.port}")

    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    url = f"rtsp://{args.host}:{args.port}{args.mount}"
    if player is None:
        announce(url)
    else:
        announce_after_first_frame(player, url)
        if player.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            fail(f"cannot play {args.file}")
    try:
        loop.run()
    finally:
        if player is not None:
            player.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
