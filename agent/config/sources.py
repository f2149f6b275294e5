"""Classifies a camera `source` string once, for every reader of it: the schema (which refuses what
cannot be opened), the loader (which resolves relative file paths), the remote-config policy (which
confines files to allowed directories) and the capture thread (which opens exactly `target`).

Pure: no I/O. Called on whichever thread validates a config and on each camera's capture thread."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path

from agent.errors import SourceError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")
_V4L2_NODE = re.compile(r"^/dev/(video[0-9]+|v4l/.+)$")
FILE_SCHEME = "file://"
DEV_DIR = "/dev/"
SUPPORTED = "use rtsp://, rtsps://, http(s)://, /dev/videoN, a device index or a file path"


class SourceKind(enum.Enum):
    V4L2 = "v4l2"
    RTSP = "rtsp"
    HTTP = "http"
    FILE = "file"


class UnsupportedSource(SourceError, ValueError):
    """A source string no backend reads; a ValueError too, so pydantic reports it at the field."""


@dataclass(frozen=True, slots=True)
class CameraSource:
    """What a source string names. `target` is what is opened: a device index, a normalised device
    path, a URL, or a normalised file path (file:// removed; relative until the loader resolves it)."""

    kind: SourceKind
    target: str

    @property
    def file_path(self) -> Path | None:
        """The video file this source reads, or None for devices and network streams."""
        return Path(self.target) if self.kind is SourceKind.FILE else None


def classify_source(source: str) -> CameraSource:
    """Classify a config `source`; UnsupportedSource for unknown schemes, control characters or a
    relative file:// URL. Paths are normalised first, so /dev/../x is the file /x, not a device."""
    text = source.strip()
    if not text:
        raise UnsupportedSource("camera source is empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise UnsupportedSource(f"camera source {redact(text)!r} contains control characters")
    if text.isdigit():
        return CameraSource(SourceKind.V4L2, text)
    match = _SCHEME.match(text)
    if match is None:
        return _path_source(text)
    scheme = match.group(1).lower()
    if scheme in ("rtsp", "rtsps"):
        return CameraSource(SourceKind.RTSP, text)
    if scheme in ("http", "https"):
        return CameraSource(SourceKind.HTTP, text)
    if scheme == "file":
        path = text[len(FILE_SCHEME) :]
        if not path.startswith("/"):
            raise UnsupportedSource(f"camera source {text!r}: a file:// URL needs an absolute path (file:///dir/x.mp4)")
        return CameraSource(SourceKind.FILE, _normal(path))
    raise UnsupportedSource(f"unsupported camera source scheme {scheme!r} in {redact(text)}: {SUPPORTED}")


def _path_source(text: str) -> CameraSource:
    normal = _normal(text)
    if normal.startswith(DEV_DIR):
        # Only video nodes are devices; any other path under /dev (or out of it via ..) is a file
        # and goes through the same checks as every other file.
        kind = SourceKind.V4L2 if _V4L2_NODE.match(normal) else SourceKind.FILE
        return CameraSource(kind, normal)
    return CameraSource(SourceKind.FILE, normal)


def _normal(path: str) -> str:
    """os.path.normpath, plus collapsing the leading // that POSIX lets normpath keep."""
    normal = os.path.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def redact(source: str) -> str:
    """The source with any user:password@ removed, safe for logs and error messages."""
    return _CREDENTIALS.sub(r"\1***@", source)


__all__ = ["CameraSource", "SourceKind", "UnsupportedSource", "classify_source", "redact"]
