"""Run the fault-injection tests against the real agent and print the figures they measured.

Usage: .venv/bin/python tools/fault_report.py [-k EXPR]
Each test prints one `FAULT-FIGURES {json}` line (tests/support/faults.py); this script runs
pytest with -s, collects those lines and prints them per scenario, as quoted in docs/reliability.md."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TAG = "FAULT-FIGURES "
TEST_FILES = (
    "tests/integration/test_faults_outbox.py",
    "tests/integration/test_faults_auth.py",
    "tests/integration/test_faults_stream.py",
    "tests/integration/test_notify_process.py",
)


def run(select: str | None) -> tuple[int, list[dict[str, object]]]:
    """Run the fault tests; return pytest's exit code and the figures of every test that printed some."""
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *TEST_FILES]
    if select:
        command += ["-k", select]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    figures = [json.loads(line[len(TAG) :]) for line in result.stdout.splitlines() if line.startswith(TAG)]
    summary = [line for line in result.stdout.splitlines() if " passed" in line or " failed" in line]
    print(summary[-1] if summary else result.stdout[-2000:], file=sys.stderr)
    return result.returncode, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", help="pytest -k expression to run only some scenarios")
    args = parser.parse_args()
    code, figures = run(args.select)
    for entry in figures:
        scenario = entry.pop("scenario")
        print(f"## {scenario}")
        for key, value in sorted(entry.items()):
            print(f"- {key}: {value}")
    return code


if __name__ == "__main__":
    sys.exit(main())
