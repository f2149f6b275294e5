"""The model catalogue, model resolution and `models pull` (real HTTP on 127.0.0.1, real mirror)."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from agent.catalog.pull import pull_model
from agent.catalog.resolve import (
    CATALOG_DIR_ENV,
    Catalog,
    CatalogEntry,
    ModelDigests,
    default_catalog_dir,
    load_catalog,
    resolve_model,
)
from agent.config.loader import load_config_text
from agent.config.schema import AgentConfig
from agent.errors import CatalogError, ModelError
from tests.support import assets
from tests.support.faults import corrupt_copy
from tests.support.http_files import serve_directory

REQUIRED = {
    "ssd_mobilenet_v1_coco_uint8_300",
    "yolov8n_int8_416",
    "yolov8n_int8_640",
    "ssd_mobilenet_v2_coco_quant",
    "ssd_mobilenet_v2_coco_quant_edgetpu",
    "efficientdet_lite0",
}
UNUSED_COCO_IDS = {11, 25, 28, 29, 44, 65, 67, 68, 70, 82}
PAYLOAD = bytes(range(256)) * 1200  # 300 KiB stands in for a model over HTTP
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config(model_path: str, model_dir: Path, labels: Path | None = None) -> AgentConfig:
    labels_line = f"  labels: {labels}\n" if labels else ""
    text = (
        f"device_id: t\nmodel_dir: {model_dir}\nmodel:\n  path: {model_path}\n{labels_line}"
        "cameras:\n  c: {source: '0'}\n"
    )
    return load_config_text(text)


def test_shipped_catalogue_has_the_required_entries() -> None:
    """The repo's catalogue validates and names every detector the docs promise."""
    catalog = load_catalog()
    assert {e.name for e in catalog.entries} >= REQUIRED
    ssd = catalog.get("ssd_mobilenet_v1_coco_uint8_300")
    assert ssd.archive_member == "detect.tflite"
    assert ssd.url.endswith("coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.zip")
    assert catalog.get("ssd_mobilenet_v2_coco_quant_edgetpu").delegate == "edgetpu"


def test_every_label_file_is_shipped() -> None:
    """Each entry's label file exists in the catalogue directory."""
    catalog = load_catalog()
    for entry in catalog.entries:
        assert (catalog.directory / entry.labels).is_file(), entry.name


@pytest.mark.parametrize("name", [assets.SSD_LABELS, assets.COCO80_LABELS])
def test_label_files_match_the_shared_copies(name: str) -> None:
    """The shipped label files are byte-identical to the verified shared ones."""
    shared = assets.model(name)
    assert (default_catalog_dir() / name).read_bytes() == shared.read_bytes()


def test_ssd_labels_keep_unused_coco_slots() -> None:
    """The 90-slot SSD label file has ??? exactly at the unused COCO ids, so class i is line i."""
    lines = (default_catalog_dir() / assets.SSD_LABELS).read_text().splitlines()
    assert len(lines) == 90
    assert {i for i, label in enumerate(lines) if label == "???"} == UNUSED_COCO_IDS
    assert (lines[0], lines[2], lines[16]) == ("person", "car", "cat")


def test_coco80_labels() -> None:
    """The 80-class list used by YOLO has no gaps."""
    lines = (default_catalog_dir() / assets.COCO80_LABELS).read_text().splitlines()
    assert len(lines) == 80
    assert "???" not in lines
    assert (lines[0], lines[2], lines[79]) == ("person", "car", "toothbrush")


@pytest.mark.parametrize(
    ("name", "asset"),
    [
        ("ssd_mobilenet_v1_coco_uint8_300", assets.SSD_MODEL),
        ("yolov8n_int8_416", assets.YOLO416_MODEL),
        ("yolov8n_int8_640", assets.YOLO640_MODEL),
    ],
)
def test_catalogued_digest_matches_the_real_model(name: str, asset: str) -> None:
    """The pinned sha256 is the digest of the real model file of that name."""
    entry = load_catalog().get(name)
    assert entry.file == asset
    assert entry.sha256 == sha256_of(assets.model(asset))


def test_catalogue_rejects_unknown_keys_and_duplicates(tmp_path: Path) -> None:
    """A catalogue typo or a duplicated name is a CatalogError naming the problem."""
    entry = "  - {name: m, url: 'http://x/m.tflite', file: m.tflite, labels: l.txt, kind: ssd, input_size: 300"
    (tmp_path / "catalog.yaml").write_text(f"models:\n{entry}, colour: red}}\n")
    with pytest.raises(CatalogError, match=r"models\.0\.colour: Extra inputs"):
        load_catalog(tmp_path)
    (tmp_path / "catalog.yaml").write_text(f"models:\n{entry}}}\n{entry}}}\n")
    with pytest.raises(CatalogError, match="duplicate model names: m"):
        load_catalog(tmp_path)


def test_catalogue_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EDGE_AGENT_CATALOG_DIR replaces <repo>/models."""
    monkeypatch.setenv(CATALOG_DIR_ENV, str(tmp_path))
    assert default_catalog_dir() == tmp_path
    with pytest.raises(CatalogError, match="cannot read model catalogue"):
        load_catalog()


def test_unknown_catalogue_name() -> None:
    """An unknown name lists the catalogue's names."""
    with pytest.raises(CatalogError, match=r"unknown model 'nope'.*yolov8n_int8_416"):
        load_catalog().get("nope")


def test_resolve_catalogue_name_in_mirror_dir() -> None:
    """A catalogue name is found as <model_dir>/<file> with its labels beside it."""
    model_dir = assets.model(assets.SSD_MODEL).parent
    resolved = resolve_model(config("ssd_mobilenet_v1_coco_uint8_300", model_dir))
    assert resolved.model_path == model_dir / assets.SSD_MODEL
    assert resolved.labels_path == model_dir / assets.SSD_LABELS
    assert resolved.catalog_entry is not None
    assert resolved.catalog_entry.kind == "ssd"


def test_resolve_falls_back_to_catalogue_labels(tmp_path: Path) -> None:
    """Without labels in model_dir, the catalogue's shipped label file is used."""
    (tmp_path / assets.YOLO416_MODEL).symlink_to(assets.model(assets.YOLO416_MODEL))
    resolved = resolve_model(config("yolov8n_int8_416", tmp_path))
    assert resolved.labels_path == default_catalog_dir() / "coco80.labels.txt"


def test_corrupt_catalogue_model_is_refused_at_load(tmp_path: Path) -> None:
    """A catalogue model whose bytes differ from the pinned sha256 is a ModelError naming both digests and the fix."""
    corrupt_copy(assets.model(assets.SSD_MODEL), tmp_path / assets.SSD_MODEL)
    expected = load_catalog().get("ssd_mobilenet_v1_coco_uint8_300").sha256
    with pytest.raises(ModelError) as caught:
        resolve_model(config("ssd_mobilenet_v1_coco_uint8_300", tmp_path))
    message = str(caught.value)
    assert f"expected {expected}" in message
    assert f"sha256 {sha256_of(tmp_path / assets.SSD_MODEL)}" in message
    assert f"edge-agent models pull ssd_mobilenet_v1_coco_uint8_300 --dest {tmp_path}" in message


def test_corrupt_model_given_by_a_catalogue_file_name_is_refused(tmp_path: Path) -> None:
    """A model path whose file name is a catalogue entry's is checked against that entry's sha256 too."""
    model = corrupt_copy(assets.model(assets.YOLO416_MODEL), tmp_path / assets.YOLO416_MODEL)
    with pytest.raises(ModelError, match="is not the catalogue's 'yolov8n_int8_416'"):
        resolve_model(config(str(model), tmp_path))


def test_intact_catalogue_model_by_path_resolves(tmp_path: Path) -> None:
    """The real model under its catalogue file name passes the check."""
    model = tmp_path / assets.SSD_MODEL
    shutil.copyfile(assets.model(assets.SSD_MODEL), model)
    assert resolve_model(config(str(model), tmp_path)).catalog_entry is not None


def test_unverified_catalogue_entry_is_not_checked(tmp_path: Path) -> None:
    """An entry without a pinned sha256 loads whatever file is there (`models list` shows it unverified)."""
    entry = load_catalog().get("ssd_mobilenet_v2_coco_quant")
    assert entry.sha256 is None
    (tmp_path / entry.file).write_bytes(b"not checked")
    assert resolve_model(config("ssd_mobilenet_v2_coco_quant", tmp_path)).model_path == tmp_path / entry.file


def test_digests_are_cached_by_size_and_mtime(tmp_path: Path) -> None:
    """ModelDigests hashes a file once while its size and mtime stay; a changed mtime or a new cache hashes again."""
    model = tmp_path / "m.tflite"
    model.write_bytes(b"a" * 1000)
    digests = ModelDigests()
    first = digests.sha256(model)
    stamp = model.stat()
    model.write_bytes(b"b" * 1000)
    os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert digests.sha256(model) == first  # same size and mtime: the cached digest, no second read
    assert ModelDigests().sha256(model) == sha256_of(model) != first
    os.utime(model, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1))
    assert digests.sha256(model) == sha256_of(model)


def test_missing_catalogue_model_says_how_to_pull(tmp_path: Path) -> None:
    """A catalogue model absent from model_dir is a ModelError with the exact pull command."""
    with pytest.raises(ModelError) as caught:
        resolve_model(config("yolov8n_int8_640", tmp_path / "models"))
    message = str(caught.value)
    assert f"edge-agent models pull yolov8n_int8_640 --dest {tmp_path / 'models'}" in message
    assert "--mirror" in message


def test_file_path_model_uses_labels_beside_it(tmp_path: Path) -> None:
    """A model given by path finds <stem>.labels.txt beside it; an explicit labels path wins."""
    model = tmp_path / "custom.tflite"
    model.write_bytes(b"model")
    with pytest.raises(ModelError, match=r"no label file for custom\.tflite"):
        resolve_model(config(str(model), tmp_path))
    (tmp_path / "custom.labels.txt").write_text("a\nb\n")
    assert resolve_model(config(str(model), tmp_path)).labels_path == tmp_path / "custom.labels.txt"
    explicit = tmp_path / "other.txt"
    explicit.write_text("x\n")
    resolved = resolve_model(config(str(model), tmp_path, labels=explicit))
    assert resolved.labels_path == explicit
    assert resolved.catalog_entry is None


def test_missing_model_file_path(tmp_path: Path) -> None:
    """A model path that does not exist is a ModelError naming it."""
    with pytest.raises(ModelError, match=r"nothing\.tflite does not exist"):
        resolve_model(config(str(tmp_path / "nothing.tflite"), tmp_path))


def test_pull_from_mirror_verifies_and_installs(tmp_path: Path) -> None:
    """Pulling from the shared mirror installs the verified model and its labels, leaving no temp files."""
    mirror = assets.model(assets.YOLO416_MODEL).parent
    catalog = load_catalog()
    seen: list[tuple[int, int | None]] = []
    result = pull_model(
        catalog.get("yolov8n_int8_416"), catalog, tmp_path / "dest", mirror, progress=lambda d, t: seen.append((d, t))
    )
    assert result.verified
    assert sha256_of(result.model_path) == result.sha256 == catalog.get("yolov8n_int8_416").sha256
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["coco80.labels.txt", "yolov8n_int8_416.tflite"]
    assert seen[-1] == (result.model_path.stat().st_size, result.model_path.stat().st_size)


def local_catalog(tmp_path: Path, base_url: str, sha256: str | None, member: str | None = None) -> Catalog:
    """A one-entry catalogue whose URL points at the local HTTP server."""
    directory = tmp_path / "catalog"
    directory.mkdir(exist_ok=True)
    (directory / "l.labels.txt").write_text("person\n")
    url = f"{base_url}/{'pack.zip' if member else 'm.tflite'}"
    entry = CatalogEntry(
        name="m",
        url=url,
        archive_member=member,
        file="m.tflite",
        sha256=sha256,
        labels="l.labels.txt",
        kind="ssd",
        input_size=300,
    )
    return Catalog(directory=directory, entries=(entry,))


@pytest.fixture
def served(tmp_path: Path) -> str:
    """Files on a real HTTP server: m.tflite (the payload) and pack.zip (payload as detect.tflite)."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "m.tflite").write_bytes(PAYLOAD)
    with zipfile.ZipFile(root / "pack.zip", "w") as archive:
        archive.writestr("README.txt", "not the model")
        archive.writestr("detect.tflite", PAYLOAD)
    return str(root)


@pytest.mark.parametrize("member", [None, "detect.tflite"])
def test_pull_over_http(tmp_path: Path, served: str, member: str | None) -> None:
    """A download (bare or zipped) is verified and installed atomically with its labels."""
    with serve_directory(Path(served)) as url:
        catalog = local_catalog(tmp_path, url, PAYLOAD_SHA, member)
        totals: list[int | None] = []
        result = pull_model(catalog.entries[0], catalog, tmp_path / "dest", progress=lambda _d, t: totals.append(t))
    assert result.model_path.read_bytes() == PAYLOAD
    assert (tmp_path / "dest" / "l.labels.txt").read_text() == "person\n"
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["l.labels.txt", "m.tflite"]
    assert totals[-1] is not None


def test_checksum_mismatch_leaves_nothing(tmp_path: Path, served: str) -> None:
    """A wrong digest is a CatalogError and nothing (not even a temp file) is left in dest."""
    with serve_directory(Path(served)) as url:
        catalog = local_catalog(tmp_path, url, "0" * 64, "detect.tflite")
        with pytest.raises(CatalogError, match=f"expected sha256 {'0' * 64}, got {PAYLOAD_SHA}"):
            pull_model(catalog.entries[0], catalog, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_unverified_entry_needs_consent(tmp_path: Path, served: str) -> None:
    """An entry without sha256 is refused unless allowed, and then reports the digest to pin."""
    with serve_directory(Path(served)) as url:
        catalog = local_catalog(tmp_path, url, None)
        with pytest.raises(CatalogError, match="--allow-unverified"):
            pull_model(catalog.entries[0], catalog, tmp_path / "dest")
        result = pull_model(catalog.entries[0], catalog, tmp_path / "dest", allow_unverified=True)
    assert (result.sha256, result.verified) == (PAYLOAD_SHA, False)


def test_http_error_is_a_catalog_error(tmp_path: Path, served: str) -> None:
    """A 404 names the URL and suggests a mirror."""
    with serve_directory(Path(served)) as url:
        catalog = local_catalog(tmp_path, url + "/missing", PAYLOAD_SHA)
        with pytest.raises(CatalogError, match=r"download of .*/missing/m\.tflite failed.*--mirror"):
            pull_model(catalog.entries[0], catalog, tmp_path / "dest")


def test_mirror_without_the_file(tmp_path: Path) -> None:
    """A mirror lacking both the model and the original archive names both."""
    catalog = load_catalog()
    with pytest.raises(CatalogError, match=r"has neither ssd_mobilenet_v1_coco_uint8_300\.tflite nor coco_ssd"):
        pull_model(catalog.get("ssd_mobilenet_v1_coco_uint8_300"), catalog, tmp_path / "dest", tmp_path)
