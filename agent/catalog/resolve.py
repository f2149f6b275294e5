"""The model catalogue (models/catalog.yaml) and resolution of the configured model to files.

The catalogue names well-known COCO detectors with their download URL, checksum and
label file. `resolve_model` turns ModelConfig.path (a file path or a catalogue name)
into the model and label files and checks a catalogue model against its sha256.
Called on the main thread at start-up and reload, and by the CLI."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import agent
from agent.config.paths import is_model_file_path
from agent.config.schema import AgentConfig, Name
from agent.errors import CatalogError, ModelError

CATALOG_DIR_ENV = "EDGE_AGENT_CATALOG_DIR"
MIRROR_ENV = "EDGE_AGENT_MODEL_MIRROR"
CATALOG_FILE = "catalog.yaml"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
LABELS_SUFFIX = ".labels.txt"
HASH_CHUNK_BYTES = 1024 * 1024
DIGESTS_REMEMBERED = 8  # model files whose digest a running agent keeps (a reload seldom swaps more)


class EntryKind(StrEnum):
    SSD = "ssd"
    YOLO = "yolo"
    YOLOX = "yolox"
    END_TO_END = "end_to_end"


class CatalogEntry(BaseModel):
    """One downloadable model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="Catalogue name, used as ModelConfig.path.")
    url: str = Field(pattern=r"^https?://", description="Official download URL (a .tflite or a zip holding it).")
    archive_member: str | None = Field(None, description="When url is a zip: the member that is the model.")
    file: str = Field(
        pattern=r"^[^/\\]+\.(tflite|onnx)$",
        description="Model file name in a mirror and in the model dir; the extension picks the runtime.",
    )
    sha256: str | None = Field(None, pattern=SHA256_PATTERN, description="sha256 of the model file; null: unverified.")
    labels: str = Field(pattern=r"^[^/\\]+$", description="Label file name, shipped in the catalogue dir.")
    kind: EntryKind = Field(
        description="Output layout: ssd (TFLite_Detection_PostProcess), yolo (raw head), yolox (grid) or end_to_end."
    )
    input_size: int = Field(gt=0, description="Square input side in pixels.")
    delegate: str = Field("cpu", pattern=r"^(cpu|edgetpu)$", description="Delegate the file is compiled for.")
    notes: str = Field("", description="Provenance, licence and caveats.")
    # How the input wants its pixels; null: the model family's convention (agent/detect/layouts.py).
    input_order: Literal["nhwc", "nchw"] | None = Field(None, description="Input layout; null: read from the shape.")
    color: Literal["rgb", "bgr"] | None = Field(None, description="Channel order the model was trained on.")
    letterbox: bool | None = Field(None, description="true: scale to fit and pad with 114 grey; false: stretch.")
    scale: Literal["unit", "symmetric", "pixel"] | None = Field(
        None, description="Float inputs: unit [0,1], symmetric [-1,1] or pixel 0-255."
    )


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(1, ge=1, le=1, description="Catalogue format version.")
    models: tuple[CatalogEntry, ...] = Field(min_length=1, description="The entries.")

    @field_validator("models")
    @classmethod
    def _unique(cls, models: tuple[CatalogEntry, ...]) -> tuple[CatalogEntry, ...]:
        names = [m.name for m in models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate model names: {', '.join(duplicates)}")
        return models


@dataclass(frozen=True, slots=True)
class Catalog:
    """The loaded catalogue and the directory holding it and its label files."""

    directory: Path
    entries: tuple[CatalogEntry, ...]

    def get(self, name: str) -> CatalogEntry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.entries)
        raise CatalogError(f"unknown model {name!r}; the catalogue has: {known} (see `edge-agent models list`)")

    def by_file(self, file_name: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.file == file_name), None)


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    model_path: Path
    labels_path: Path
    catalog_entry: CatalogEntry | None


@dataclass(frozen=True, slots=True)
class _FileStamp:
    path: Path
    size: int
    mtime_ns: int


class ModelDigests:
    """sha256 of model files, each hashed once while its size and mtime stay the same.

    One per running agent (the supervisor's), so a reload of an unchanged model costs a stat;
    a new process hashes again, which also catches a file that rotted on the card in place."""

    def __init__(self) -> None:
        self._known: OrderedDict[_FileStamp, str] = OrderedDict()

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        stamp = _FileStamp(path.resolve(), stat.st_size, stat.st_mtime_ns)
        digest = self._known.get(stamp)
        if digest is None:
            digest = file_sha256(path)
            self._known[stamp] = digest
            while len(self._known) > DIGESTS_REMEMBERED:
                self._known.popitem(last=False)
        return digest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def default_catalog_dir() -> Path:
    """$EDGE_AGENT_CATALOG_DIR, else `<repo>/models` beside the agent package."""
    override = os.environ.get(CATALOG_DIR_ENV)
    if override:
        return Path(override)
    return Path(agent.__file__).resolve().parents[1] / "models"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load `<directory>/catalog.yaml` (a catalog.yaml file path is accepted too)."""
    base = directory if directory is not None else default_catalog_dir()
    path = base if base.is_file() else base / CATALOG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read model catalogue {path}: {exc.strerror} (set {CATALOG_DIR_ENV})") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"model catalogue {path} is not valid YAML: {exc}") from exc
    try:
        parsed = CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CatalogError(f"model catalogue {path} is invalid: {problems}") from exc
    return Catalog(directory=path.parent, entries=parsed.models)


def model_dir_of(cfg: AgentConfig) -> Path:
    """The directory searched for catalogue models: model_dir, default <state_dir>/models."""
    return cfg.model_dir if cfg.model_dir is not None else cfg.state_dir / "models"


def pull_command(name: str, dest: Path) -> str:
    """The command that puts catalogue model `name` into `dest`, online and from a mirror."""
    command = f"edge-agent models pull {name} --dest {dest}"
    mirror = os.environ.get(MIRROR_ENV) or "MIRROR_DIR"
    return f"{command} (without internet: {command} --mirror {mirror})"


def resolve_model(
    cfg: AgentConfig, catalog: Catalog | None = None, digests: ModelDigests | None = None
) -> ResolvedModel:
    """Find the model and label files of `cfg.model`; ModelError says how to get a missing one.

    A catalogue model (by name, or a file named like one) must match the catalogue's sha256:
    a corrupt file is a ModelError here instead of a detector that silently sees nothing."""
    catalog = catalog if catalog is not None else load_catalog()
    model_dir = model_dir_of(cfg)
    if is_model_file_path(cfg.model.path):
        model_path = Path(cfg.model.path)
        entry = catalog.by_file(model_path.name)
        if not model_path.is_file():
            raise ModelError(f"model file {model_path} does not exist (model.path in the config)")
    else:
        entry = catalog.get(cfg.model.path)
        model_path = model_dir / entry.file
        if not model_path.is_file():
            raise ModelError(
                f"model {entry.name!r} is not in {model_dir} (no {entry.file}); "
                f"fetch it with: {pull_command(entry.name, model_dir.absolute())}"
            )
    labels_path = _find_labels(cfg, model_path, entry, catalog, model_dir)
    if entry is not None:
        _verify(model_path, entry, digests if digests is not None else ModelDigests())
    return ResolvedModel(model_path=model_path, labels_path=labels_path, catalog_entry=entry)


def _verify(model_path: Path, entry: CatalogEntry, digests: ModelDigests) -> None:
    if entry.sha256 is None:
        return  # the catalogue pins no digest for it (`models list` shows it as unverified)
    try:
        actual = digests.sha256(model_path)
    except OSError as exc:
        raise ModelError(f"cannot read model file {model_path}: {exc.strerror or exc}") from exc
    if actual != entry.sha256:
        raise ModelError(
            f"model file {model_path} is not the catalogue's {entry.name!r} (sha256 {actual}, expected "
            f"{entry.sha256}): it is corrupt or another model under that file name; fetch it again with: "
            f"{pull_command(entry.name, model_path.parent.absolute())}, or give your own model another file name"
        )


def _find_labels(
    cfg: AgentConfig, model_path: Path, entry: CatalogEntry | None, catalog: Catalog, model_dir: Path
) -> Path:
    if cfg.model.labels is not None:
        if not cfg.model.labels.is_file():
            raise ModelError(f"label file {cfg.model.labels} does not exist (model.labels in the config)")
        return cfg.model.labels
    candidates = [model_path.with_name(model_path.stem + LABELS_SUFFIX)]
    if entry is not None:
        candidates = [model_dir / entry.labels, model_path.with_name(entry.labels), catalog.directory / entry.labels]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise ModelError(f"no label file for {model_path.name} (tried {tried}); set model.labels in the config")


def resolve_reid_model(cfg: AgentConfig, model: str) -> Path:
    """The file of a camera's `tracker.reid.model`: a path as written, else a file name in model_dir."""
    path = Path(model) if "/" in model else model_dir_of(cfg) / model
    if not path.is_file():
        where = "" if "/" in model else f" (looked in model_dir {model_dir_of(cfg)})"
        raise ModelError(f"re-id model file {path} does not exist{where}")
    return path
