"""The bounded load test on loopback: `bench/serve_load.py` for one round (200 concurrent reads
and 20 concurrent plan submissions against one `polyfleet serve` process). It exits 1 on any
failed request and on any submission not stored, listed and run to its end. Latencies are
printed for BENCHMARKS.md, never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "serve_load.py"
LIMIT_S = 1200  # a bound on the whole round, far above what it takes; no timing is asserted


def test_concurrent_reads_and_submissions_lose_nothing(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--no-write"],
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Errors: 0. Submissions acknowledged 20 of 20, lost 0" in done.stdout
    assert "| all reads | 200 |" in done.stdout
