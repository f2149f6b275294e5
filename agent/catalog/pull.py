"""Fetches a catalogue model into a directory: download (or mirror copy), unzip, verify, install.

The model is written to a temp file in the destination, checked against the catalogue's
sha256, fsynced and renamed into place, so a failed or interrupted pull never leaves a
partial or unverified model behind. Called by the CLI (`edge-agent models pull`), main thread."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent.catalog.resolve import Catalog, CatalogEntry
from agent.errors import CatalogError

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) while a file is fetched."""

CHUNK_BYTES = 256 * 1024
MAX_MODEL_BYTES = 1024 * 1024 * 1024  # no detector we catalogue is near 1 GiB; stops runaway downloads
DOWNLOAD_TIMEOUT_S = 60.0
USER_AGENT = "edge-vision-agent model pull"


@dataclass(frozen=True, slots=True)
class PullResult:
    model_path: Path
    labels_path: Path
    sha256: str
    verified: bool
    source: str


def pull_model(
    entry: CatalogEntry,
    catalog: Catalog,
    dest: Path,
    mirror: Path | None = None,
    allow_unverified: bool = False,
    progress: Progress | None = None,
) -> PullResult:
    """Install `entry`'s model and label file into `dest`; CatalogError on any failure."""
    if entry.sha256 is None and not allow_unverified:
        raise CatalogError(
            f"{entry.name} has no verified sha256 in the catalogue; pass --allow-unverified to fetch it anyway "
            "and pin the digest it prints"
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"cannot create model directory {dest}: {exc.strerror}") from exc
    with _temp_file(dest, entry.file) as fetched:
        source = _fetch(entry, mirror, fetched, progress)
        with _temp_file(dest, entry.file) as model:
            digest = _extract(entry, fetched, model)
            if entry.sha256 is not None and digest != entry.sha256:
                raise CatalogError(
                    f"{entry.name}: checksum mismatch for {source}: expected sha256 {entry.sha256}, got {digest}; "
                    "nothing was installed"
                )
            model_path = dest / entry.file
            _install(model, model_path)
    labels_path = _install_labels(entry, catalog, dest)
    return PullResult(model_path, labels_path, digest, entry.sha256 is not None, source)


@contextmanager
def _temp_file(directory: Path, name: str) -> Iterator[Path]:
    """A temp file beside the target (same file system, so rename is atomic); removed unless renamed."""
    handle, raw = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    os.close(handle)
    path = Path(raw)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def mirror_names(entry: CatalogEntry) -> tuple[str, ...]:
    """The file names a mirror may hold the model under: the installed name, then the URL's, once each."""
    url_name = entry.url.rsplit("/", 1)[-1]
    return (entry.file,) if url_name == entry.file else (entry.file, url_name)


def _fetch(entry: CatalogEntry, mirror: Path | None, out: Path, progress: Progress | None) -> str:
    """Copy from the mirror or download from the URL into `out`; return the source's name."""
    if mirror is not None:
        names = mirror_names(entry)
        for candidate in (mirror / name for name in names):
            if candidate.is_file():
                with candidate.open("rb") as src:
                    _copy(src, out, candidate.stat().st_size, progress)
                return str(candidate)
        missing = f"no {names[0]}" if len(names) == 1 else f"neither {names[0]} nor {names[1]}"
        raise CatalogError(f"{entry.name}: the mirror {mirror} has {missing}")
    request = urllib.request.Request(entry.url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            _copy(response, out, int(length) if length and length.isdigit() else None, progress)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CatalogError(
            f"{entry.name}: download of {entry.url} failed: {reason}; without internet use --mirror DIR"
        ) from exc
    return entry.url


def _copy(src: IO[bytes], out: Path, total: int | None, progress: Progress | None) -> None:
    done = 0
    with out.open("wb") as dst:
        while chunk := src.read(CHUNK_BYTES):
            done += len(chunk)
            if done > MAX_MODEL_BYTES:
                raise CatalogError(f"download exceeds {MAX_MODEL_BYTES} bytes; refusing it")
            dst.write(chunk)
            if progress is not None:
                progress(done, total)


def _extract(entry: CatalogEntry, fetched: Path, model: Path) -> str:
    """Write the model (the zip member, or the fetched file itself) to `model`; return its sha256.

    A mirror may hold either the original zip or the bare model, so the content decides."""
    digest = hashlib.sha256()
    with model.open("wb") as dst:
        if entry.archive_member is not None and zipfile.is_zipfile(fetched):
            try:
                with zipfile.ZipFile(fetched) as archive, archive.open(entry.archive_member) as src:
                    _hash_copy(src, dst, digest)
            except (zipfile.BadZipFile, KeyError) as exc:
                raise CatalogError(f"{entry.name}: cannot read {entry.archive_member} from the archive: {exc}") from exc
        else:
            with fetched.open("rb") as src:
                _hash_copy(src, dst, digest)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _hash_copy(src: IO[bytes], dst: IO[bytes], digest: hashlib._Hash) -> None:
    written = 0
    while chunk := src.read(CHUNK_BYTES):
        written += len(chunk)
        if written > MAX_MODEL_BYTES:
            raise CatalogError(f"model file exceeds {MAX_MODEL_BYTES} bytes; refusing it")
        digest.update(chunk)
        dst.write(chunk)


def _install(tmp: Path, target: Path) -> None:
    """Rename into place and fsync the directory so the rename survives a power cut."""
    tmp.chmod(0o644)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _install_labels(entry: CatalogEntry, catalog: Catalog, dest: Path) -> Path:
    source = catalog.directory / entry.labels
    target = dest / entry.labels
    if not source.is_file():
        raise CatalogError(f"{entry.name}: label file {source} is missing from the catalogue directory")
    if target.exists() and target.resolve() == source.resolve():
        return target
    with _temp_file(dest, entry.labels) as tmp:
        shutil.copyfile(source, tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        _install(tmp, target)
    return target
