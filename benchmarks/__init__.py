"""Benchmarks: each measures one part side by side with its baseline, in one run."""

import json
import os
import subprocess
import sys
from typing import Any


def child_run(benchmark: str, *args: str) -> dict[str, Any]:
    """Run `python -m benchmarks <benchmark> <args>` in a fresh process (so its peak memory
    is its own) and return the JSON its last line prints."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", benchmark, *args],
        capture_output=True,
        text=True,
        env=os.environ,
    )
    if done.returncode:
        raise SystemExit(f"{benchmark} {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
