"""Reads an ImageFolder training directory (one sub-folder per class, images inside) for `edge-agent
train`, rejecting what cannot train a classifier with a RecognitionError naming the folder or file:
an empty or single-class directory, a class without images, a non-image or unreadable file. CLI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from agent.errors import RecognitionError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MIN_IMAGES_PER_CLASS = 2  # one for training, one for validation


@dataclass(frozen=True, slots=True)
class ImageFolder:
    """The classes (sorted folder names) and every image with its class index."""

    root: Path
    classes: tuple[str, ...]
    paths: tuple[Path, ...]
    targets: tuple[int, ...]


def scan_image_folder(root: Path) -> ImageFolder:
    """List `root`'s class folders and their images; hidden files are ignored, anything else is an error."""
    if not root.is_dir():
        raise RecognitionError(f"training data {root} is not a directory (want one folder per class)")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    strays = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    if strays:
        raise RecognitionError(f"{strays[0]}: a file at the top of {root}; put every image in its class folder")
    if not folders:
        raise RecognitionError(f"training data {root} is empty: make one folder per class holding its images")
    if len(folders) < 2:
        raise RecognitionError(f"training data {root} has a single class ({folders[0].name}); a classifier needs two or more")
    paths: list[Path] = []
    targets: list[int] = []
    for index, folder in enumerate(folders):
        images = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        for path in images:
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                raise RecognitionError(f"{path}: not an image file (expected {', '.join(IMAGE_SUFFIXES)})")
        if len(images) < MIN_IMAGES_PER_CLASS:
            raise RecognitionError(
                f"class folder {folder} has {len(images)} image(s); each class needs at least {MIN_IMAGES_PER_CLASS}"
            )
        paths.extend(images)
        targets.extend([index] * len(images))
    return ImageFolder(root, tuple(f.name for f in folders), tuple(paths), tuple(targets))


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Decode one image as uint8 BGR; RecognitionError naming the file when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if image is None:
        raise RecognitionError(f"{path}: unreadable image (empty, truncated or not an image)")
    return np.asarray(image, dtype=np.uint8)
