#!/usr/bin/env bash
# The probe's decode on this machine's GPU, replayed from a captured graph and eager, side by side:
# the tiny preset (proves the path in seconds), then the full one (with the copy workload, the
# memory bandwidth this chip reaches at all). Prints the probe's tables, then for each batch
# (1, 8, 64 at full) and mode: tokens/s, per-token p50/p99 and % of peak memory bandwidth, the
# graph / eager ratio, and whether graph decode at batch 64 reaches 40 % of peak memory bandwidth
# (printed last); before that, where one batch-64 step's time goes (kernels, launch gaps). About two
# minutes; each step has its own time limit (under five minutes in all) and a failing step does not
# stop the others. Everything printed is also written to OUT_DIR/log.txt.
# Usage: bash bench/probe_decode_gpu.sh [OUT_DIR]   (default: out/probe-decode). Runs from a
# checkout with PYTHONPATH=src (set here) and torch, pydantic, typer, rich, pyyaml, numpy.
# Set DIAGNOSE=0 to skip the kernel breakdown.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-out/probe-decode}"
mkdir -p "$out"
py="${PYTHON:-python3}"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
export COLUMNS="${COLUMNS:-200}"  # rich draws the probe's table this wide when not on a terminal
status=0
step() {  # step SECONDS NAME COMMAND...: run with a time limit, report and remember a failure
    local limit="$1" name="$2"
    shift 2
    local t0=$SECONDS
    echo "== $name (limit ${limit} s)"
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - t0)) s"
    if [ "$rc" -ne 0 ]; then status=1; fi
    return 0
}
main() {
    start=$SECONDS
    "$py" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.version.cuda, '| hip', getattr(torch.version, 'hip', None), '| accelerator', torch.accelerator.current_accelerator())"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>/dev/null \
        || rocm-smi --showproductname 2>/dev/null || true
    step 60 "tiny preset, llm-decode" \
        "$py" -m polyfleet probe --preset tiny --only llm-decode --out "$out/tiny.json"
    step 150 "full preset, copy and llm-decode" \
        "$py" -m polyfleet probe --preset full --only copy,llm-decode --out "$out/full.json"
    if [ "${DIAGNOSE:-1}" != "0" ]; then
        step 60 "where a batch-64 step's time goes" \
            "$py" bench/decode_kernels.py --preset full --batch 64 --steps 5
    fi
    step 20 "summary" "$py" bench/decode_summary.py "$out/tiny.json" "$out/full.json"
    echo "== all done in $((SECONDS - start)) s; profiles in $out; exit $status"
    return "$status"
}
main 2>&1 | tee "$out/log.txt"  # everything printed, also kept beside the profiles
exit "${PIPESTATUS[0]}"
