"""Frames picked evenly from a user's footage (image directories and video files) for int8 calibration
and its held-out check: which frames, and reading them back one at a time (footage may not fit in
memory). Runs on the CLI's main thread (`edge-agent models quantize`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.errors import AgentError
from agent.types import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FootageError(AgentError):
    """A calibration source cannot be read."""


@dataclass(frozen=True, slots=True)
class Footage:
    """One source: a video file, or the sorted images of a directory."""

    path: Path
    images: tuple[Path, ...]  # empty for a video
    frames: int


def open_footage(path: Path) -> Footage:
    if path.is_dir():
        images = tuple(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not images:
            raise FootageError(f"calibration directory {path} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        return Footage(path, images, len(images))
    capture = cv2.VideoCapture(str(path))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    if frames <= 0:
        raise FootageError(f"calibration source {path} is neither an image directory nor a readable video")
    return Footage(path, (), frames)


@dataclass(frozen=True, slots=True)
class Picks:
    """Global frame numbers over the sources in order: calibration and held-out ones never overlap."""

    calibration: tuple[int, ...]
    held_out: tuple[int, ...]


def pick(total_frames: int, calibration: int, held_out: int) -> Picks:
    """calibration + held_out frames spread evenly over the footage, every k-th of them held out, so both
    sets cover all of it. Fewer when the footage is shorter."""
    wanted = min(total_frames, calibration + held_out)
    spread = np.unique(np.linspace(0, total_frames - 1, wanted).round().astype(int)).tolist()
    if held_out <= 0:
        return Picks(tuple(spread), ())
    step = max(1, round(len(spread) / held_out))
    held = set(spread[step // 2 :: step][:held_out])
    return Picks(tuple(i for i in spread if i not in held), tuple(sorted(held)))


def read_frames(footage: Sequence[Footage], wanted: Sequence[int]) -> Iterator[Image]:
    """The BGR frames at global numbers `wanted` (ascending), decoded in one pass."""
    remaining = sorted(wanted)
    offset = 0
    for source in footage:
        local = [i - offset for i in remaining if offset <= i < offset + source.frames]
        offset += source.frames
        if source.images:
            for index in local:
                image = cv2.imread(str(source.images[index]), cv2.IMREAD_COLOR)
                if image is None:
                    raise FootageError(f"cannot read calibration image {source.images[index]}")
                yield np.asarray(image, dtype=np.uint8)
            continue
        yield from _video_frames(source.path, local)


def _video_frames(path: Path, local: Sequence[int]) -> Iterator[Image]:
    capture = cv2.VideoCapture(str(path))
    try:
        position = 0
        for index in local:
            while position < index and capture.grab():
                position += 1
            ok, image = capture.read()
            if not ok:
                return  # the container's frame count was high: the rest is not there
            position += 1
            yield np.asarray(image, dtype=np.uint8)
    finally:
        capture.release()
