"""The benchmark suite: `python tools/bench.py efficiency|latency|batch|density|naive|memory|stages|interpreters|onnx|calibration|recognition|tracking|web|all`.

Every figure is a ratio or a comparison measured within one run, because absolute times drift on a
shared machine. Results go to bench-out/<name>.json, plots to docs/perf/*.png; each subcommand ends
with a one-line summary. See docs/performance.md for what each one measures and the targets."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
for path in (str(TOOLS), str(TOOLS.parent)):
    if path not in sys.path:
        sys.path.insert(0, path)

COMMANDS = (
    "efficiency",
    "latency",
    "batch",
    "density",
    "naive",
    "memory",
    "stages",
    "interpreters",
    "onnx",
    "calibration",
    "recognition",
    "tracking",
    "web",
)
TFLITE_VENV = TOOLS.parent / ".venv-tflite-runtime"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=(*COMMANDS, "all"))
    parser.add_argument("--quick", action="store_true", help="short windows (a smoke run; noisier figures)")
    parser.add_argument(
        "--runtime",
        choices=("litert", "tflite_runtime"),
        default="litert",
        help="TFLite runtime; tflite_runtime re-runs the command in .venv-tflite-runtime (bash .ci/tflite_runtime_compat.sh)",
    )
    parser.add_argument(
        "--soak-minutes",
        type=float,
        default=None,
        help="memory: length of the 4-camera soak (default 30, 1 with --quick)",
    )
    parser.add_argument("--soak-only", action="store_true", help="memory: only the soak, not the 1/4/8-camera RSS")
    parser.add_argument("--counts", default="4,16,64,100", help="calibration: frame counts, comma-separated")
    parser.add_argument("--methods", default="minmax,percentile", help="calibration: minmax,percentile,entropy")
    parser.add_argument("--max-streams", type=int, default=10, help="density: most 720p streams tried")
    return parser.parse_args(argv)


def run_command(name: str, args: argparse.Namespace) -> None:
    if name == "efficiency":
        import bench_efficiency

        bench_efficiency.run(args.quick)
    elif name == "latency":
        import bench_latency

        bench_latency.run(args.quick)
    elif name == "batch":
        import bench_batch

        bench_batch.run(args.quick)
    elif name == "density":
        import bench_density

        bench_density.run(args.quick, args.max_streams)
    elif name == "naive":
        import bench_naive

        bench_naive.run(args.quick)
    elif name == "memory":
        import bench_memory

        minutes = args.soak_minutes if args.soak_minutes is not None else (1.0 if args.quick else 30.0)
        bench_memory.run(args.quick, minutes, skip_rss=args.soak_only)
    elif name == "stages":
        import bench_stages

        bench_stages.run(args.quick)
    elif name == "interpreters":
        import bench_interpreters

        bench_interpreters.run(args.quick)
    elif name == "onnx":
        import bench_onnx

        bench_onnx.run(args.quick)
    elif name == "calibration":
        import bench_calibration

        counts = tuple(int(c) for c in args.counts.split(","))
        bench_calibration.run(counts, tuple(args.methods.split(",")))
    elif name == "recognition":
        import recognition_eval

        recognition_eval.run(args.quick)
    elif name == "tracking":
        import bench_tracking

        bench_tracking.run(args.quick)
    elif name == "web":
        import bench_web

        bench_web.run(args.quick)


def reexec_in_tflite_venv(argv: list[str]) -> int:
    """tflite-runtime 2.14 needs numpy < 2, so it lives in its own venv: run this same command there."""
    python = TFLITE_VENV / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"bench: {python} missing; create it with: bash .ci/tflite_runtime_compat.sh")
    return subprocess.run([str(python), str(Path(__file__).resolve()), *argv], check=False).returncode


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.runtime == "tflite_runtime":
        os.environ["EDGE_AGENT_TFLITE_RUNTIME"] = "tflite_runtime"
        if Path(sys.prefix).resolve() != TFLITE_VENV.resolve():
            return reexec_in_tflite_venv(argv)
    names = COMMANDS if args.command == "all" else (args.command,)
    for name in names:
        run_command(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
