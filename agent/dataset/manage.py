"""What `edge-agent dataset` does to a dataset directory (agent.dataset.layout): list, stats,
label (move crops into class folders) and split (train/val ImageFolders). Main thread of the CLI;
errors are DatasetError naming the file or directory."""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.config.schema import is_name
from agent.dataset.layout import FRAMES, IMAGE_SUFFIX, LABELLED, UNLABELLED
from agent.errors import InputError

PARTS = (UNLABELLED, LABELLED, FRAMES)


class DatasetError(InputError):
    """A dataset command cannot do what was asked; the message names the file or directory."""


@dataclass(frozen=True, slots=True)
class DatasetStats:
    unlabelled: dict[str, int]  # "<camera>/<label>" -> crops waiting for a class
    labelled: dict[str, int]  # class -> crops
    frames: int
    total_bytes: int


def images_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(f"*{IMAGE_SUFFIX}") if p.is_file()) if directory.is_dir() else []


def check_root(root: Path) -> None:
    if not root.is_dir():
        raise DatasetError(
            f"dataset directory {root} does not exist (datasets.dir of the config, default <state_dir>/datasets)"
        )


def list_images(root: Path, parts: Sequence[str] = PARTS) -> list[Path]:
    check_root(root)
    return [path for part in parts for path in images_under(root / part)]


def stats(root: Path) -> DatasetStats:
    check_root(root)
    unlabelled = Counter(f"{p.parent.parent.name}/{p.parent.name}" for p in images_under(root / UNLABELLED))
    labelled = Counter(p.parent.name for p in images_under(root / LABELLED))
    frames = len(images_under(root / FRAMES))
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return DatasetStats(dict(sorted(unlabelled.items())), dict(sorted(labelled.items())), frames, total)


def label(root: Path, targets: Iterable[Path], class_name: str) -> list[Path]:
    """Move crops (files, or every image in a directory) into <root>/labelled/<class_name>/; the new paths.

    Every target must be an image inside the dataset's unlabelled/ or labelled/ part (relabelling)."""
    check_root(root)
    if not is_name(class_name):
        raise DatasetError(f"class name {class_name!r} must be letters, digits, _ and - (it becomes a folder name)")
    files = []
    for target in targets:
        found = images_under(target) if target.is_dir() else [target]
        if not found:
            raise DatasetError(f"{target}: no {IMAGE_SUFFIX} images there")
        files.extend(found)
    allowed = (root / UNLABELLED).resolve(), (root / LABELLED).resolve()
    for path in files:
        if not path.is_file() or path.suffix != IMAGE_SUFFIX:
            raise DatasetError(f"{path}: not a {IMAGE_SUFFIX} file of the dataset")
        if not any(path.resolve().is_relative_to(part) for part in allowed):
            raise DatasetError(f"{path} is not inside {root / UNLABELLED} or {root / LABELLED}")
    destination = root / LABELLED / class_name
    destination.mkdir(parents=True, exist_ok=True)
    moved = []
    for path in files:
        target = destination / path.name
        os.replace(path, target)
        moved.append(target)
    return moved


@dataclass(frozen=True, slots=True)
class SplitReport:
    train: dict[str, int]
    val: dict[str, int]


def split(source: Path, out: Path, val_fraction: float, seed: int) -> SplitReport:
    """Copy an ImageFolder (one folder per class) into out/train/<class> and out/val/<class>, stratified
    per class and reproducible for a seed; every class keeps at least one image on each side."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"--val-fraction must be between 0 and 1, got {val_fraction}")
    classes = sorted(d for d in source.iterdir() if d.is_dir()) if source.is_dir() else []
    if len(classes) < 2:
        raise DatasetError(f"{source} needs at least two class folders to split, found {len(classes)}")
    if out.resolve().is_relative_to(source.resolve()):
        raise DatasetError(f"--out {out} must not be inside {source}")
    rng = random.Random(seed)
    train: dict[str, int] = {}
    val: dict[str, int] = {}
    for directory in classes:
        images = images_under(directory)
        if len(images) < 2:
            raise DatasetError(f"class folder {directory} has {len(images)} images; a split needs at least 2")
        rng.shuffle(images)
        n_val = min(len(images) - 1, max(1, round(len(images) * val_fraction)))
        for side, chosen, counts in (("val", images[:n_val], val), ("train", images[n_val:], train)):
            target = out / side / directory.name
            target.mkdir(parents=True, exist_ok=True)
            for image in chosen:
                shutil.copy2(image, target / image.name)
            counts[directory.name] = len(chosen)
    return SplitReport(train, val)
