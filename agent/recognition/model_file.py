"""The classifier model file: one zip holding meta.json (class names, backbone file and sha256, input size,
head kind, validation figures, creation time), coef.npy and intercept.npy (the linear head), and
checksum.sha256 over those three members. Loading runs no code: arrays load with allow_pickle=False.
Called by the train CLI (save) and by whichever thread builds a CropClassifier (load)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import RecognitionError
from agent.storage.atomic_file import write_atomic

FORMAT_NAME = "edge-agent-classifier"
FORMAT_VERSION = 1
META_MEMBER = "meta.json"
COEF_MEMBER = "coef.npy"
INTERCEPT_MEMBER = "intercept.npy"
CHECKSUM_MEMBER = "checksum.sha256"
MEMBERS = (META_MEMBER, COEF_MEMBER, INTERCEPT_MEMBER)


class BackboneRef(BaseModel):
    """The frozen backbone the head was trained on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="Backbone file name, looked up in the model directory or mirror.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the backbone file the head expects.")


class Validation(BaseModel):
    """Held-out figures measured when the file was trained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy: float = Field(ge=0.0, le=1.0, description="Accuracy on the validation split.")
    n_train: int = Field(ge=0, description="Training images (before augmentation).")
    n_val: int = Field(ge=0, description="Validation images.")
    per_class: dict[str, float] = Field(default_factory=dict, description="Validation recall per class.")


class ClassifierMeta(BaseModel):
    """meta.json of a classifier file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["edge-agent-classifier"] = Field(description="File format name.")
    version: int = Field(ge=1, le=FORMAT_VERSION, description="File format version.")
    labels: tuple[str, ...] = Field(min_length=2, description="Class names, index i = row i of coef (multiclass).")
    backbone: BackboneRef = Field(description="The backbone whose features the head reads.")
    input_size: tuple[int, int] = Field(description="Backbone input width, height in pixels.")
    head: Literal["logistic", "linear_svm"] = Field(description="Linear head kind; scores are its softmax.")
    validation: Validation = Field(description="Held-out figures at training time.")
    created: str = Field(description="UTC creation time, ISO 8601.")
    training: dict[str, float | int | str] = Field(default_factory=dict, description="Training settings used.")


@dataclass(frozen=True, slots=True)
class ClassifierFile:
    """A loaded (or about to be saved) classifier: metadata and the linear head's arrays."""

    meta: ClassifierMeta
    coef: npt.NDArray[np.float32]  # (classes, features), or (1, features) for two classes
    intercept: npt.NDArray[np.float32]  # (classes,) or (1,)


def _npy(array: npt.NDArray[np.float32]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _digest(parts: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in MEMBERS:
        digest.update(name.encode())
        digest.update(len(parts[name]).to_bytes(8, "big"))
        digest.update(parts[name])
    return digest.hexdigest()


def save_classifier_file(path: Path, model: ClassifierFile) -> str:
    """Write `model` to `path` atomically; returns the file's content checksum."""
    check_shapes(model.meta, model.coef, model.intercept, path)
    parts = {
        META_MEMBER: json.dumps(model.meta.model_dump(mode="json"), indent=2, sort_keys=True).encode(),
        COEF_MEMBER: _npy(model.coef),
        INTERCEPT_MEMBER: _npy(model.intercept),
    }
    checksum = _digest(parts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in MEMBERS:
            archive.writestr(name, parts[name])
        archive.writestr(CHECKSUM_MEMBER, checksum + "\n")
    write_atomic(path, buffer.getvalue())
    return checksum


def load_classifier_file(path: Path) -> ClassifierFile:
    """Read and verify a classifier file; RecognitionError names the file and what is wrong with it."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [n for n in (*MEMBERS, CHECKSUM_MEMBER) if n not in names]
            if missing:
                raise RecognitionError(f"classifier file {path} lacks {', '.join(missing)}: not a classifier file")
            parts = {name: archive.read(name) for name in MEMBERS}
            recorded = archive.read(CHECKSUM_MEMBER).decode("ascii", "replace").strip()
    except (OSError, zipfile.BadZipFile) as exc:
        raise RecognitionError(f"cannot read classifier file {path}: {exc} (train one with `edge-agent train`)") from exc
    actual = _digest(parts)
    if actual != recorded:
        raise RecognitionError(
            f"classifier file {path} fails its checksum (recorded {recorded[:16]}..., content {actual[:16]}...): "
            "it is corrupt or was edited; train it again"
        )
    try:
        meta = ClassifierMeta.model_validate_json(parts[META_MEMBER])
        coef = np.load(io.BytesIO(parts[COEF_MEMBER]), allow_pickle=False)
        intercept = np.load(io.BytesIO(parts[INTERCEPT_MEMBER]), allow_pickle=False)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RecognitionError(f"classifier file {path}: {META_MEMBER} is invalid: {problems}") from exc
    except ValueError as exc:
        raise RecognitionError(f"classifier file {path}: unreadable head arrays ({exc})") from exc
    check_shapes(meta, coef, intercept, path)
    return ClassifierFile(meta, coef.astype(np.float32), intercept.astype(np.float32))


def check_shapes(
    meta: ClassifierMeta, coef: npt.NDArray[np.float32], intercept: npt.NDArray[np.float32], path: Path
) -> None:
    """The head's rows match the class count: one row for two classes, one per class otherwise."""
    rows = 1 if len(meta.labels) == 2 else len(meta.labels)
    if coef.ndim != 2 or coef.shape[0] != rows or intercept.shape != (rows,):
        raise RecognitionError(
            f"classifier file {path}: head shapes coef {coef.shape}, intercept {intercept.shape} do not fit "
            f"{len(meta.labels)} classes"
        )
