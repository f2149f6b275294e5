"""`edge-agent train` (a crop classifier from an ImageFolder directory) and `edge-agent classify` (run
one on image files). Bad input (empty or single-class data, a non-image or unreadable file, a model
trained on another backbone) prints one line naming the file and exits 2. Main thread."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.errors import RecognitionError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `train` and `classify` to the edge-agent command parser."""
    train = commands.add_parser("train", help="train a crop classifier on a frozen backbone (ImageFolder dir)")
    train.add_argument("--data", required=True, type=Path, metavar="DIR", help="one folder per class, images inside")
    train.add_argument("--out", required=True, type=Path, metavar="FILE", help="classifier file to write (.clf)")
    _model_options(train)
    train.add_argument("--epochs", type=int, default=200, metavar="N", help="head solver iterations (default 200)")
    train.add_argument("--augment", type=int, default=4, metavar="N", help="augmented copies per training image")
    train.add_argument("--val-fraction", type=float, default=0.25, metavar="F", help="held-out share (default 0.25)")
    train.add_argument("--seed", type=int, default=0, metavar="S", help="split and augmentation seed")
    train.add_argument("--head", choices=("logistic", "linear_svm"), default="logistic", help="linear head kind")
    train.add_argument("--threads", type=int, default=2, metavar="N", help="backbone CPU threads while training")
    train.add_argument(
        "--compare-baselines", action="store_true", help="also train HOG + linear SVM on the same split"
    )
    train.set_defaults(handler=cmd_train)

    classify = commands.add_parser("classify", help="classify image files: path<TAB>label<TAB>score per image")
    classify.add_argument("--model", required=True, type=Path, metavar="FILE", help="classifier file from train")
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files (one crop each)")
    _model_options(classify)
    classify.set_defaults(handler=cmd_classify)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", type=Path, metavar="PATH", help="backbone .tflite (default: found by name)")
    parser.add_argument("--model-dir", type=Path, metavar="DIR", help="where models are (default $EDGE_AGENT_MODEL_DIR)")
    parser.add_argument("--mirror", type=Path, metavar="DIR", help="model mirror (default $EDGE_AGENT_MODEL_MIRROR)")


def cmd_train(args: argparse.Namespace) -> int:
    from agent.recognition.backbone import Backbone, resolve_backbone
    from agent.recognition.dataset import read_image, scan_image_folder
    from agent.recognition.model_file import save_classifier_file
    from agent.recognition.training import TrainSettings, train_classifier

    # A RecognitionError (an InputError) goes up to agent.cli.main: exit 2 with the message naming the file.
    if args.epochs < 1 or args.augment < 0 or args.threads < 1:
        raise RecognitionError("--epochs and --threads must be at least 1, --augment at least 0")
    folder = scan_image_folder(args.data)
    images = [read_image(path) for path in folder.paths]
    backbone = Backbone(resolve_backbone(args.backbone, args.model_dir, args.mirror), args.threads)
    settings = TrainSettings(
        epochs=args.epochs,
        augment=args.augment,
        val_fraction=args.val_fraction,
        seed=args.seed,
        head=args.head,
        compare_baselines=args.compare_baselines,
    )
    print(f"data {folder.root}: {len(images)} images, classes {', '.join(folder.classes)}")
    print(f"backbone {backbone.path} sha256 {backbone.sha256}")
    outcome = train_classifier(images, folder.targets, folder.classes, backbone, settings)
    for figures in (outcome.backbone, *outcome.baselines):
        recalls = " ".join(f"{name}={value:.3f}" for name, value in figures.per_class.items())
        print(f"{figures.name}: accuracy={figures.accuracy:.4f} fit_s={figures.fit_s:.2f} recall {recalls}")
    try:
        checksum = save_classifier_file(args.out, outcome.model)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.out} (checksum {checksum[:16]}..., {outcome.total_s:.1f} s)")
    print(
        f"accuracy={outcome.backbone.accuracy:.4f} classes={len(folder.classes)} "
        f"n_train={outcome.n_train} n_val={outcome.n_val}"
    )
    return EXIT_OK


def cmd_classify(args: argparse.Namespace) -> int:
    from agent.recognition.classifier import load_classifier
    from agent.recognition.dataset import read_image

    classifier = load_classifier(args.model, args.model_dir, args.mirror, args.backbone)
    status = EXIT_OK
    for path in args.images:
        try:
            result = classifier.classify(read_image(path))
        except RecognitionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(f"{path}\t{result.label}\t{result.score:.4f}", flush=True)
    return status
