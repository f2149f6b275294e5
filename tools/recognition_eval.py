"""`python tools/recognition_eval.py [--quick]` (also `tools/bench.py recognition`): the recognition figures of
docs/recognition.md, computed from the hand labels of tests/data/recognition on the real videos.

1. Held-out accuracy (a fixed stratified 20% test split per task) with 10, 30 and all training examples
   per class, backbone + logistic head against HOG + linear SVM, without and with augmentation (4 seeded
   copies per image); 10 and 30 per class are the mean (and minimum) over several random draws.
2. Head choice: 5-fold cross-validation on the training pool only (never the test split) of logistic
   regression and linear SVM at several C on the backbone features; the HOG baseline's C is picked the
   same way, so the baseline is tuned as fairly as the backbone head.
3. Training time of `edge-agent train`'s code path on 200 images (default settings, 2 threads), and as a
   ratio to the bare backbone invokes it needs, measured in the same run.
4. Single-crop classify latency with 1 thread (backbone invoke included) as a ratio to the bare invoke.
5. A time-blocked cross-validation (3 s blocks of frames as groups), free of the neighbour-frame leak."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

TOOLS = Path(__file__).resolve().parent
for _path in (str(TOOLS), str(TOOLS.parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_env as env  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from agent.recognition.augment import Augmenter  # noqa: E402
from agent.recognition.backbone import DEFAULT_BACKBONE, Backbone  # noqa: E402
from agent.recognition.classifier import load_classifier  # noqa: E402
from agent.recognition.hog import HogFeatures  # noqa: E402
from agent.recognition.model_file import save_classifier_file  # noqa: E402
from agent.recognition.training import (  # noqa: E402
    TrainSettings,
    evaluate,
    featurise,
    fit_linear,
    split_indices,
    train_classifier,
)
from tests.support.recognition_data import (  # noqa: E402
    PEDESTRIANS,
    TRAFFIC,
    LabelledCrop,
    crops_of,
    object_labels,
    state_labels,
)

Image = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float32]
TEST_FRACTION = 0.2
SHOTS: tuple[int | None, ...] = (10, 30, None)
AUGMENT_COPIES = 4
SEED = 0
TASKS: dict[str, tuple[str, Callable[[], tuple[LabelledCrop, ...]]]] = {
    "objects (car colour)": (TRAFFIC, object_labels),
    "states (walkway)": (PEDESTRIANS, state_labels),
}
BLOCK_FRAMES = {"objects (car colour)": 90, "states (walkway)": 30}  # 3 s of each video (30 and 10 fps)
HEAD_GRID: tuple[tuple[str, float], ...] = (
    ("logistic", 1.0), ("logistic", 10.0), ("logistic", 100.0), ("logistic", 1000.0), ("linear_svm", 0.1),
    ("linear_svm", 1.0), ("linear_svm", 10.0), ("linear_svm", 100.0),
)
HOG_GRID: tuple[tuple[str, float], ...] = (("linear_svm", 0.1), ("linear_svm", 1.0), ("linear_svm", 10.0))


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """One feature kind of one task: pool originals (n, d), pool augmented copies (k, n, d), test (m, d)."""

    pool: Matrix
    augmented: Matrix
    test: Matrix


@dataclass(frozen=True, slots=True)
class Task:
    classes: tuple[str, ...]
    pool_targets: npt.NDArray[np.intp]
    test_targets: npt.NDArray[np.intp]
    features: dict[str, FeatureSet]  # "backbone" | "hog"
    images: list[Image]
    frames: npt.NDArray[np.intp]  # video frame of each image, label-file order
    pool_idx: npt.NDArray[np.intp]
    test_idx: npt.NDArray[np.intp]


def load_task(video: str, labels: tuple[LabelledCrop, ...], backbone: Backbone) -> Task:
    crops = crops_of(env.video(video), labels)
    classes = tuple(sorted({s.label for s, _ in crops}))
    images = [c for _, c in crops]
    targets = [classes.index(s.label) for s, _ in crops]
    pool_idx, test_idx = split_indices(targets, TEST_FRACTION, SEED)
    augmenter = Augmenter(backbone.input_size, SEED)
    pool_images = [images[i] for i in pool_idx]
    copies = [[augmenter.augment(im) for im in pool_images] for _ in range(AUGMENT_COPIES)]
    hog = HogFeatures()
    features = {}
    for name, fn in (("backbone", backbone.features), ("hog", hog.features)):
        features[name] = FeatureSet(
            featurise(fn, pool_images),
            np.stack([featurise(fn, c) for c in copies]),
            featurise(fn, [images[i] for i in test_idx]),
        )
    target_array = np.asarray(targets)
    frames = np.asarray([s.frame for s, _ in crops])
    return Task(classes, target_array[pool_idx], target_array[test_idx], features, images, frames, pool_idx, test_idx)


def draw(targets: npt.NDArray[np.intp], per_class: int | None, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """Up to `per_class` random pool indices of each class (all of them for None)."""
    chosen = []
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        take = len(members) if per_class is None else min(per_class, len(members))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def accuracy_of(task: Task, kind: str, head: str, c: float, idx: npt.NDArray[np.intp], augment: bool) -> float:
    fs = task.features[kind]
    x = fs.pool[idx]
    y = task.pool_targets[idx]
    if augment:
        x = np.concatenate([x, *fs.augmented[:, idx]])
        y = np.concatenate([y] * (AUGMENT_COPIES + 1))
    coef, intercept = fit_linear(head, x, list(y), c, 200, SEED)  # type: ignore[arg-type]
    return evaluate(coef, intercept, fs.test, list(task.test_targets), task.classes)[0]


def accuracy_rows(task: Task, repeats: int, hog_c: float) -> list[dict[str, Any]]:
    rows = []
    for per_class in SHOTS:
        draws = 1 if per_class is None else repeats
        for kind, head, c in (("backbone", "logistic", TrainSettings().c), ("hog", "linear_svm", hog_c)):
            for augment in (False, True):
                scores = []
                for r in range(draws):
                    idx = draw(task.pool_targets, per_class, np.random.default_rng(SEED + r))
                    scores.append(accuracy_of(task, kind, head, c, idx, augment))
                rows.append({
                    "per_class": "all" if per_class is None else per_class, "features": kind, "head": head,
                    "augment": augment, "mean": statistics.fmean(scores), "min": min(scores), "draws": draws,
                })
    return rows


def head_choice(task: Task, kind: str, grid: tuple[tuple[str, float], ...]) -> list[dict[str, Any]]:
    fs = task.features[kind]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    rows = []
    for head, c in grid:
        model = LogisticRegression(C=c, max_iter=TrainSettings().epochs) if head == "logistic" else LinearSVC(C=c, max_iter=2000)
        scores = cross_val_score(model, fs.pool, task.pool_targets, cv=folds)
        rows.append({"head": head, "c": c, "cv_accuracy": float(np.mean(scores))})
    return rows


def time_blocked(task: Task, block_frames: int) -> dict[str, float]:
    """5-fold CV over all samples grouped in blocks of `block_frames` consecutive frames: no crop of a test
    block has a neighbour-frame twin in training, the leak a random split has (see the labels README)."""
    targets = np.empty(len(task.images), np.intp)
    targets[task.pool_idx], targets[task.test_idx] = task.pool_targets, task.test_targets
    groups = task.frames // block_frames
    result = {}
    for kind, model in (
        ("backbone", LogisticRegression(C=TrainSettings().c, max_iter=TrainSettings().epochs)),
        ("hog", LinearSVC(C=10.0, max_iter=2000)),
    ):
        fs = task.features[kind]
        x = np.empty((len(task.images), fs.pool.shape[1]), np.float32)
        x[task.pool_idx], x[task.test_idx] = fs.pool, fs.test
        result[kind] = float(np.mean(cross_val_score(model, x, targets, groups=groups, cv=GroupKFold(n_splits=5))))
    return result


def train_time(task: Task, backbone_path: Path, work: Path) -> dict[str, Any]:
    """edge-agent train's code path on 200 images: the object crops plus flipped copies to make 200."""
    images = list(task.images)  # in label-file order
    labels = object_labels()
    targets = [task.classes.index(s.label) for s in labels]
    while len(images) < 200:
        k = len(images) - len(labels)
        images.append(np.ascontiguousarray(images[k][:, ::-1]))
        targets.append(targets[k])
    backbone = Backbone(backbone_path, threads=2)
    backbone.features(images[0])
    settings = TrainSettings()
    before = bare_invoke_s(backbone, 200)
    start = time.perf_counter()
    outcome = train_classifier(images, targets, task.classes, backbone, settings)
    train_s = time.perf_counter() - start
    save_classifier_file(work / "cars.clf", outcome.model)
    invokes = outcome.n_val + outcome.n_train * (settings.augment + 1)
    # the bare invoke is timed just before and just after training, to bracket the machine's load
    bare_s = (before + bare_invoke_s(backbone, 200)) / 2 * invokes
    return {"images": len(images), "train_s": train_s, "backbone_invokes": invokes, "bare_invokes_s": bare_s,
            "ratio_to_bare_invokes": train_s / bare_s, "accuracy": outcome.backbone.accuracy}


def bare_invoke_s(backbone: Backbone, count: int = 50) -> float:
    """Median time of the backbone's bare invoke on its last input."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        backbone.invoke_only()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def classify_latency(task: Task, model: Path, backbone_path: Path, rounds: int) -> dict[str, Any]:
    """Median classify(crop) against the median bare invoke, 1 thread, in alternating blocks of 50 so both
    see the same machine load (per-call interleaving would charge each with the other's cache misses)."""
    classifier = load_classifier(model, backbone=backbone_path, threads=1)
    crops = task.images[:50]
    for crop in crops[:10]:
        classifier.classify(crop)
    classify_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(rounds):
        for crop in crops:
            t0 = time.perf_counter()
            classifier.classify(crop)
            classify_s.append(time.perf_counter() - t0)
        for _ in crops:
            t0 = time.perf_counter()
            classifier.invoke_only()
            bare_s.append(time.perf_counter() - t0)
    classify_ms = statistics.median(classify_s) * 1000
    bare_ms = statistics.median(bare_s) * 1000
    return {"classify_ms": classify_ms, "classify_p90_ms": env.percentile(classify_s, 90) * 1000,
            "bare_invoke_ms": bare_ms, "ratio": classify_ms / bare_ms, "samples": len(classify_s)}


def print_tables(result: dict[str, Any]) -> None:
    for name, task in result["tasks"].items():
        print(f"\n{name}: classes {', '.join(task['classes'])}; pool {task['pool']}, test {task['test']}")
        print("| train/class | features + head | augment | accuracy mean | min (draws) |")
        print("|---|---|---|---|---|")
        for r in task["accuracy"]:
            print(f"| {r['per_class']} | {r['features']} + {r['head']} | {'x4' if r['augment'] else 'no'} "
                  f"| {r['mean']:.3f} | {r['min']:.3f} ({r['draws']}) |")
        choice = ", ".join(f"{r['head']} C={r['c']:g}: {r['cv_accuracy']:.3f}" for r in task["head_choice"])
        print(f"head choice (5-fold CV on the pool, backbone features): {choice}")
        hog = ", ".join(f"C={r['c']:g}: {r['cv_accuracy']:.3f}" for r in task["hog_choice"])
        print(f"HOG + linear SVM C (5-fold CV on the pool; the best is used above): {hog}")
        blocked = task["time_blocked"]
        print(f"time-blocked 5-fold CV (blocks of {task['block_frames']} frames, all samples, no augmentation): "
              f"backbone + logistic {blocked['backbone']:.3f}, hog + linear_svm C=10 {blocked['hog']:.3f}")
    t = result["train"]
    print(f"\ntrain {t['images']} images: {t['train_s']:.1f} s ({t['backbone_invokes']} backbone invokes, "
          f"{t['ratio_to_bare_invokes']:.2f}x their bare invoke time), val accuracy {t['accuracy']:.3f}")
    c = result["classify"]
    print(f"classify one crop, 1 thread: median {c['classify_ms']:.2f} ms (p90 {c['classify_p90_ms']:.2f}), "
          f"bare backbone invoke {c['bare_invoke_ms']:.2f} ms, ratio {c['ratio']:.3f}")


def run(quick: bool) -> dict[str, Any]:
    backbone_path = env.assets_dir() / "models" / DEFAULT_BACKBONE
    backbone = Backbone(backbone_path, threads=2)
    result: dict[str, Any] = {"tasks": {}}
    tasks = {}
    for name, (video, labels) in TASKS.items():
        task = load_task(video, labels(), backbone)
        tasks[name] = task
        hog_choice = head_choice(task, "hog", HOG_GRID)
        hog_c = max(hog_choice, key=lambda r: r["cv_accuracy"])["c"]  # the baseline gets its best C too
        result["tasks"][name] = {
            "classes": task.classes, "pool": len(task.pool_targets), "test": len(task.test_targets),
            "accuracy": accuracy_rows(task, 2 if quick else 10, hog_c),
            "head_choice": head_choice(task, "backbone", HEAD_GRID), "hog_choice": hog_choice,
            "time_blocked": time_blocked(task, BLOCK_FRAMES[name]), "block_frames": BLOCK_FRAMES[name],
        }
    with env.workdir("recognition") as work:
        objects = tasks["objects (car colour)"]
        result["train"] = train_time(objects, backbone_path, work)
        result["classify"] = classify_latency(objects, work / "cars.clf", backbone_path, 2 if quick else 6)
    print_tables(result)
    saved = env.save_result("recognition", result)
    c = result["classify"]
    print(f"recognition: train {result['train']['train_s']:.1f} s on 200 images, classify {c['classify_ms']:.2f} ms "
          f"= {c['ratio']:.3f}x bare invoke ({saved})")
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer random draws and timing rounds")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
