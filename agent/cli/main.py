"""The `edge-agent` command line: run, check-config, models list/pull/quantize, config push/status
(remote configuration of devices, agent.cli.fleet), analyze (batch video, agent.cli.analyze) and
train/classify (second-stage crop classifiers, agent.cli.recognition).

Exit codes: 0 success, 1 a runtime/model/catalogue error (one clear line on stderr),
2 an invalid config (every error as `file:line: field: message`) or bad usage,
130 interrupted. Runs on the main thread; `run` hands over to agent.daemon.app.run_agent."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agent import __version__
from agent.catalog.resolve import MIRROR_ENV, load_catalog, model_dir_of
from agent.cli import analyze, dataset, fleet, pull_progress, recognition
from agent.config.checks import load_checked_config
from agent.config.loader import load_config
from agent.errors import AgentError, ConfigError, InputError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2  # also bad input to a command (InputError)
EXIT_INTERRUPTED = 130
MODEL_DIR_ENV = "EDGE_AGENT_MODEL_DIR"
DEFAULT_MODEL_DIR = Path("state/models")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure_logging(level: str) -> None:
    """One line per record on stderr: time, level, thread, logger, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def cmd_run(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    # A model the check could not read is not a warning here: start-up loads it next and fails with one line.
    cfg = load_checked_config(config_path, warn=lambda _line: None)
    configure_logging(args.log_level or cfg.log_level)
    from agent.daemon.app import run_agent  # lazy: the other commands must work without the runtime stack

    return int(run_agent(cfg, config_path))


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load_checked_config(Path(args.config), warn=_warn)  # a model not pulled yet is only a warning
    count = len(cfg.cameras)
    print(f"OK: {count} camera{'' if count == 1 else 's'}, model {cfg.model.path}")
    return EXIT_OK


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def cmd_models_list(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    header = ("NAME", "KIND", "INPUT", "LABELS", "VERIFIED-SHA256", "URL")
    rows = [header] + [
        (e.name, e.kind.value, f"{e.input_size}x{e.input_size}", e.labels, "yes" if e.sha256 else "no", e.url)
        for e in catalog.entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return EXIT_OK


def pull_destination(args: argparse.Namespace) -> Path:
    """--dest, else the model_dir of --config, else $EDGE_AGENT_MODEL_DIR, else ./state/models."""
    if args.dest is not None:
        return Path(args.dest)
    if args.config is not None:
        return model_dir_of(load_config(Path(args.config)))
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else DEFAULT_MODEL_DIR


def cmd_models_pull(args: argparse.Namespace) -> int:
    from agent.catalog.pull import pull_model

    catalog = load_catalog(args.catalog)
    entry = catalog.get(args.name)
    dest = pull_destination(args)
    mirror_text = args.mirror or os.environ.get(MIRROR_ENV)
    mirror = Path(mirror_text) if mirror_text else None
    with pull_progress.shown_on(sys.stderr, entry.name) as progress:
        result = pull_model(entry, catalog, dest, mirror, args.allow_unverified, progress)
    print(f"installed {result.model_path} and {result.labels_path} (from {result.source})")
    if result.verified:
        print(f"sha256 {result.sha256} verified")
    else:
        print(f"sha256 {result.sha256} NOT verified: check it, then pin in catalog.yaml: `sha256: {result.sha256}`")
    return EXIT_OK


def cmd_models_quantize(args: argparse.Namespace) -> int:
    try:
        from agent.detect import quantize
    except ImportError as exc:
        raise AgentError(
            f"models quantize needs onnx and onnxruntime ({exc}); pip install 'edge-vision-agent[onnx]'"
        ) from exc
    model = Path(args.model)
    labels = Path(args.labels) if args.labels else quantize.default_labels(model)
    if labels is None:
        raise AgentError(f"no label file found for {model.name}; pass --labels PATH")
    request = quantize.QuantizeRequest(
        model,
        labels,
        tuple(Path(s) for s in args.calibration),
        Path(args.out),
        args.frames,
        args.held_out,
        args.threads,
        method=args.method,
    )
    report = quantize.quantize_model(request, load_catalog().by_file(model.name))
    for line in quantize.report_lines(report):
        print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-agent", description="Headless edge video analytics agent.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent until SIGTERM/SIGINT")
    run.add_argument(
        "--config", required=True, metavar="PATH", help="YAML config file (relative paths in it are relative to it)"
    )
    run.add_argument("--log-level", choices=LOG_LEVELS, help="override the config's log_level")
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser("check-config", help="validate a config file; exit 2 listing every error")
    check.add_argument("config", metavar="PATH", help="YAML config file")
    check.set_defaults(handler=cmd_check_config)

    models = commands.add_parser("models", help="the model catalogue").add_subparsers(
        dest="models_command", required=True, metavar="ACTION"
    )
    catalog_help = "catalogue dir (holding catalog.yaml) or file; default $EDGE_AGENT_CATALOG_DIR or <repo>/models"
    listing = models.add_parser("list", help="list the catalogue's models")
    listing.add_argument("--catalog", type=Path, help=catalog_help)
    listing.set_defaults(handler=cmd_models_list)

    pull = models.add_parser("pull", help="download (or copy from a mirror) and verify a catalogue model")
    pull.add_argument("name", help="catalogue name (see `edge-agent models list`)")
    pull.add_argument(
        "--dest",
        metavar="DIR",
        help=f"directory to install into; default: the model_dir of --config, else ${MODEL_DIR_ENV}, "
        f"else ./{DEFAULT_MODEL_DIR} (the default model_dir of a config in the current directory)",
    )
    pull.add_argument("--config", metavar="PATH", help="take the destination from this config's model_dir")
    pull.add_argument("--mirror", metavar="DIR", help=f"copy DIR/<file> instead of downloading (default ${MIRROR_ENV})")
    pull.add_argument("--allow-unverified", action="store_true", help="accept a model without a catalogued sha256")
    pull.add_argument("--catalog", type=Path, help=catalog_help)
    pull.set_defaults(handler=cmd_models_pull)

    quant = models.add_parser("quantize", help="int8 copy of an fp32 ONNX detector, calibrated on your own frames")
    quant.add_argument("model", metavar="MODEL.onnx", help="the fp32 ONNX detector")
    quant.add_argument("--calibration", nargs="+", required=True, metavar="DIR|VIDEO", help="image dirs or videos")
    quant.add_argument("--out", required=True, metavar="OUT.onnx", help="where to write the int8 model")
    quant.add_argument("--labels", metavar="PATH", help="label file; default: the catalogue's, or <stem>.labels.txt")
    quant.add_argument("--frames", type=int, default=64, help="calibration frames, spread over the footage (16-100)")
    quant.add_argument(
        "--method",
        choices=("percentile", "minmax", "entropy"),
        default="percentile",
        help="activation ranges: percentile clips outliers (best measured); minmax widens with every frame",
    )
    quant.add_argument("--held-out", type=int, default=50, help="other frames the int8 model is checked on")
    quant.add_argument("--threads", type=int, default=2, help="threads of both models while timing them")
    quant.set_defaults(handler=cmd_models_quantize)

    fleet.register(commands)
    analyze.register(commands)
    dataset.register(commands)
    recognition.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edge-agent` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
