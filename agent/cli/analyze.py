"""`edge-agent analyze VIDEO...`: batch analysis of recorded video, no broker needed.

Each file runs through the same pipeline as the live agent, with the settings of one camera of the
config, as fast as the CPU allows (agent.batch). Results go to `--out/<file stem>/` as JSON lines
and snapshots; `--publish` also sends them to the broker. `--jobs N` analyses N files at once, one
process each. Exit 0, or 2 when a file could not be analysed (the other files still run)."""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.batch.config import batch_config, choose_camera
from agent.config.checks import load_checked_config

if TYPE_CHECKING:  # the runtime stack (OpenCV, the model runtime) loads only when a file is analysed
    from agent.batch.run import FileJob, FileResult

EXIT_OK = 0
EXIT_FILE_FAILED = 2
DEFAULT_OUT = Path("analysis")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `analyze` to the edge-agent command parser."""
    analyze = commands.add_parser("analyze", help="analyse video files in a batch (no broker needed)")
    analyze.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="video files (anything OpenCV decodes)")
    analyze.add_argument("--config", required=True, type=Path, metavar="PATH", help="the agent's YAML config")
    analyze.add_argument(
        "--camera-config", metavar="NAME", help="the camera whose settings apply (default: the config's only camera)"
    )
    analyze.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"results, one dir per file (default ./{DEFAULT_OUT})",
    )
    analyze.add_argument(
        "--publish", action="store_true", help="also publish to the config's broker, as device <device_id>-analyze"
    )
    analyze.add_argument("--detections", action="store_true", help="also write every frame's detections")
    analyze.add_argument("--jobs", type=int, default=1, metavar="N", help="files analysed at once, one process each")
    analyze.set_defaults(handler=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise SystemExit("edge-agent analyze: --jobs must be at least 1")
    base = load_checked_config(args.config, warn=lambda _line: None)
    camera = choose_camera(base, args.camera_config, str(args.config))
    from agent.batch.run import FileJob

    jobs = [
        FileJob(
            video,
            camera,
            batch_config(base, camera, video.resolve(), _out_dir(args.out, video, i, args.videos)),
            _out_dir(args.out, video, i, args.videos),
            args.publish,
            args.detections,
            show_progress=args.jobs == 1,
        )
        for i, video in enumerate(args.videos)
    ]
    results = run_jobs(jobs, args.jobs)
    print_summary(results, sys.stdout)
    return EXIT_FILE_FAILED if any(r.error for r in results) else EXIT_OK


def _out_dir(out: Path, video: Path, index: int, videos: Sequence[Path]) -> Path:
    """`out/<stem>`, or `out/<stem>-<n>` when two files share a stem."""
    stems = [v.stem for v in videos]
    return out / (video.stem if stems.count(video.stem) == 1 else f"{video.stem}-{index + 1}")


def run_jobs(jobs: Sequence[FileJob], parallel: int) -> list[FileResult]:
    """In this process one after another, or `parallel` worker processes (spawned: no inherited threads)."""
    from agent.batch.run import analyze_file

    if parallel == 1 or len(jobs) == 1:
        return [analyze_file(job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=parallel, mp_context=context) as pool:
        return list(pool.map(analyze_file, jobs))


def print_summary(results: Sequence[FileResult], out: TextIO) -> None:
    """One block per file (events per label, line totals, anomalies), then the totals over all files."""
    events: Counter[str] = Counter()
    for result in results:
        out.write(f"{result.video}\n")
        if result.tally is None or result.position is None:
            out.write(f"  FAILED: {result.error}\n")
            continue
        tally, position = result.tally, result.position
        events.update(tally.events)
        out.write(f"  {position.describe('analysed')}\n")
        out.write(f"  events: {_counts(tally.events)}\n")
        for line, (a_to_b, b_to_a) in sorted(tally.lines.items()):
            out.write(f"  line {line}: a_to_b {a_to_b}, b_to_a {b_to_a}\n")
        out.write(f"  anomalies: {_counts(tally.anomalies)}\n")
        out.write(f"  results: {result.out_dir}\n")
    failed = sum(1 for r in results if r.error)
    out.write(f"{len(results) - failed} of {len(results)} files analysed; events: {_counts(dict(events))}\n")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counts.items())) or "none"
