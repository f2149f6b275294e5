"""`edge-agent dataset list|stats|label|split`: look after a field dataset (agent.dataset) from the CLI.

The directory is `--data DIR`, or the `datasets.dir` of `--config` (default <state_dir>/datasets).
Exit 0, or 2 with a message naming the file for bad input (agent.cli.main turns AgentError into 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.config.checks import load_checked_config
from agent.dataset import manage
from agent.dataset.layout import BYTES_PER_MB, LABELLED

EXIT_OK = 0
EXIT_USAGE = 2
DEFAULT_DIR_NAME = "datasets"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `dataset` to the edge-agent command parser."""
    dataset = commands.add_parser("dataset", help="field datasets for training classifiers").add_subparsers(
        dest="dataset_command", required=True, metavar="ACTION"
    )
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_mutually_exclusive_group(required=True)
    group.add_argument("--data", type=Path, metavar="DIR", help="the dataset directory")
    group.add_argument("--config", type=Path, metavar="PATH", help="take the directory from this config's datasets.dir")

    listing = dataset.add_parser("list", parents=[where], help="list the images, one path per line")
    listing.add_argument("--part", choices=manage.PARTS, action="append", help="only these parts (repeatable)")
    listing.set_defaults(handler=cmd_list)

    counts = dataset.add_parser("stats", parents=[where], help="crops per camera/label and per class, frames, size")
    counts.set_defaults(handler=cmd_stats)

    label = dataset.add_parser("label", parents=[where], help="move crops (files or folders) into a class folder")
    label.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="crops, or folders of crops")
    label.add_argument("--as", dest="class_name", required=True, metavar="CLASS", help="the class they belong to")
    label.set_defaults(handler=cmd_label)

    split = dataset.add_parser("split", parents=[where], help="copy labelled/ into train/ and val/ ImageFolders")
    split.add_argument("--out", type=Path, required=True, metavar="DIR", help="where train/ and val/ go")
    split.add_argument("--val-fraction", type=float, default=0.2, help="share of each class for validation")
    split.add_argument("--seed", type=int, default=0, help="shuffle seed (the same seed gives the same split)")
    split.set_defaults(handler=cmd_split)


def dataset_dir(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return Path(args.data)
    config = load_checked_config(args.config, warn=lambda _line: None)
    return config.datasets.dir or config.state_dir / DEFAULT_DIR_NAME


def cmd_list(args: argparse.Namespace) -> int:
    for path in manage.list_images(dataset_dir(args), tuple(args.part or manage.PARTS)):
        print(path)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    found = manage.stats(dataset_dir(args))
    print("unlabelled (camera/label: crops)")
    for key, count in found.unlabelled.items() or {"(none)": 0}.items():
        print(f"  {key:<40} {count:>6}")
    print("labelled (class: crops)")
    for key, count in found.labelled.items() or {"(none)": 0}.items():
        print(f"  {key:<40} {count:>6}")
    print(f"frames with YOLO labels: {found.frames}")
    print(f"size: {found.total_bytes / BYTES_PER_MB:.1f} MB")
    return EXIT_OK


def cmd_label(args: argparse.Namespace) -> int:
    moved = manage.label(dataset_dir(args), args.paths, args.class_name)
    print(f"{len(moved)} crops labelled {args.class_name}")
    return EXIT_OK


def cmd_split(args: argparse.Namespace) -> int:
    root = dataset_dir(args)
    report = manage.split(root / LABELLED, args.out, args.val_fraction, args.seed)
    for name in report.train:
        print(f"{name}\ttrain={report.train[name]}\tval={report.val[name]}")
    return EXIT_OK
