#!/usr/bin/env bash
# Run the probe's `full` preset on this machine's GPU, print its table, and compare its gemm and
# copy rates with plain torch.matmul / copy measured in the same run (bench/probe_vs_plain.py).
# Usage: bash bench/probe_gpu.sh [OUT_DIR]   (default: out/probe); needs polyfleet[probe] or
# PYTHONPATH=src with torch, pydantic, typer, rich, pyyaml and numpy importable. The decode figures
# alone (graph replay and eager, tiny and full) come quicker from bench/probe_decode_gpu.sh.
set -euo pipefail
out="${1:-out/probe}"
mkdir -p "$out"
py="${PYTHON:-python3}"
"$py" -c "import torch; print('torch', torch.__version__, 'accelerator:', torch.accelerator.current_accelerator())"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null || true
# the tiny preset first: proves the code path on this backend in seconds
"$py" -m polyfleet probe --preset tiny --out "$out/tiny.json"
start=$(date +%s)
"$py" -m polyfleet probe --preset full --out "$out/full.json"
echo "full preset: $(( $(date +%s) - start )) s"
# the probe's ceilings against plain matmul / copy, alternating so both see the same clocks
"$py" bench/probe_vs_plain.py --preset full --rounds 5
