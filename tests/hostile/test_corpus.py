"""Every command on every hostile file of tests/hostile/files, as a new, careless or malicious user
would run it: each must end with exit code 1 and one message naming the file, the field and the
value, no traceback, within 10 s of CPU and 1 GiB, having written nothing.

The corpus: `common/` holds what the shared reader refuses for every file kind (alias bomb, deep
nesting, duplicate keys, impossible dates, empty, not UTF-8, wrong top level, unsafe tags); each
kind's folder holds its valid base (`valid/`) with one field made non-finite, absurd, misspelt or
inconsistent (`benchmarks/`: tables of published results, read by `calibrate` and `plan`;
`build-file/`: build files, read by `build-vs-buy`).
Command-line options are listed below (OPTIONS, USAGE).

Each command runs in its own child process, forked from one of a few processes that imported the
CLI once (zygote.py), a few at a time; so a command costs its own work, not the imports. It runs
in an empty folder given as the place for every output (`--out`, `--html`, `--state-dir`,
`--profiles-out`), which must still be empty afterwards. Memory is the child's peak RSS (from
wait4) and time its CPU time, so that a shared, busy machine does not fail the test; a child
still running after KILL_AFTER_S is killed, and fails.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FILES = Path(__file__).parent / "files"
VALID = FILES / "valid"
CPU_LIMIT_S = 10.0
KILL_AFTER_S = 20.0
RSS_LIMIT = 1 << 30
WORKERS = 3
ENV = {
    **os.environ,
    "COLUMNS": "4000",  # one message on one line: rich folds at the terminal width
    "NO_COLOR": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass(frozen=True)
class Case:
    """One command line. `expect`: what the message must name, besides the file (`names`)."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    names: str = ""  # the file the message must name
    usage: bool = False  # a usage error: typer's own message box, not ours
    exit_code: int = 1


# --- the commands each file kind runs under ------------------------------------------------------

COMMANDS: dict[str, dict[str, tuple[str, ...]]] = {
    "scenario": {
        "plan": ("plan", "{file}", "--out", "{tmp}/plan.json", "--html", "{tmp}/plan.html"),
        "leverage": ("leverage", "{file}", "--json"),
        "frontier": ("frontier", "{file}", "--html", "{tmp}/frontier.html"),
    },
    "procurement": {
        "procure": ("procure", "{file}", "--out", "{tmp}/procure.json"),
        "procure --lock-in": ("procure", "{file}", "--lock-in", "--json"),
    },
    "build-file": {"build-vs-buy": ("build-vs-buy", "{file}", "--out", "{tmp}/build.json")},
    "deal": {"deal": ("deal", "{file}", "--no-sensitivity", "--html", "{tmp}/deal.html")},
    "profile": {
        "plan --profiles": (
            "plan",
            str(VALID / "scenario.yaml"),
            "--profiles",
            "{file}",
            "--out",
            "{tmp}/plan.json",
            "--html",
            "{tmp}/plan.html",
        )
    },
    "jobs": {
        "run": (
            "run",
            "{file}",
            "--plan",
            "{plan}",
            "--state-dir",
            "{tmp}/state",
            "--profiles-out",
            "{tmp}/profiles",
        )
    },
    "benchmarks": {
        "calibrate": ("calibrate", "--benchmarks", "{file}"),
        "plan --benchmarks": (
            "plan",
            str(VALID / "scenario.yaml"),
            "--benchmarks",
            "{file}",
            "--out",
            "{tmp}/plan.json",
        ),
    },
    "plan": {
        "run": (
            "run",
            str(VALID / "jobs.yaml"),
            "--plan",
            "{file}",
            "--state-dir",
            "{tmp}/state",
            "--profiles-out",
            "{tmp}/profiles",
        )
    },
}
YAML_KINDS = (
    "scenario",
    "procurement",
    "build-file",
    "deal",
    "jobs",
    "benchmarks",
)  # profiles and plans are JSON only

# --- common/: the shared reader's refusals, for every kind --------------------------------------
# file -> what the message names (besides the file); a kind's own wording where it differs

COMMON: dict[str, tuple[str, ...]] = {
    "alias-bomb.yaml": ("aliases expand the document to more than", "'g[0]'", "'*f'"),
    "alias-loop.yaml": ("an alias inside the value it names", "'name[1]'", "'*a'"),
    "bad-date.yaml": ("date", "'when'", "'2026-13-45'"),
    "comments-only.yaml": ("the file is empty",),
    "deep.json": ("nest deeper than 100 levels", "'deep[0][0]"),
    "deep.yaml": ("nest deeper than 100 levels", ":2:"),
    "duplicate-key.yaml": ("'name' is given twice", "lines 2 and 3", "field 'name'"),
    "duplicate-key.json": ("'name' is given twice", "lines 1 and 2", "field 'name'"),
    "empty.yaml": ("the file is empty",),
    "empty.json": ("the file is empty",),
    "huge-int.json": ("a number of 5000 digits", "'n[1]'", "'99999"),
    "not-utf8.yaml": ("not UTF-8 text: byte 0xe9", ":2:"),
    "not-utf8.json": ("not UTF-8 text: byte 0xe9", ":1:"),
    "python-tag.yaml": ("could not determine a constructor", "python/object/apply", "'name'"),
    "top-level-list.yaml": ("must be a mapping", "[{'name': 'a'}"),
    "top-level-string.json": ("must be a mapping", "'just a string'"),
}
COMMON_BY_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("profile", "top-level-string.json"): ("not a polyfleet profile", "'format'", "'str'"),
    ("plan", "top-level-string.json"): ("must be a JSON object", "'just a string'"),
}

# --- each kind's own files: (file, the field and the value the message names) -------------------

KIND_FILES: dict[str, list[tuple[str, str, str]]] = {
    "scenario": [
        ("misspelt-key.yaml", "pools[0].acelerator (nv)", "did you mean 'accelerator'"),
        ("names-deal-bomb.yaml", "'g[0]'", "aliases expand"),
        ("names-deep-profile.yaml", "'deep[0][0]", "nest deeper than 100"),
        ("price-inf.yaml", "pools[0].cost.per_gpu_hour", "inf"),
        ("price-nan.yaml", "pools[0].cost.per_gpu_hour", "nan"),
        ("price-huge.yaml", "pools[0].cost.per_gpu_hour", "1e+308"),
        ("count-huge.yaml", "pools[0].count", "1e+30"),
        ("count-bool.yaml", "pools[0].count", "true"),
        ("count-null.yaml", "pools[0].count", "(got null)"),
        ("pue-nan.yaml", "pools[0].pue", "nan"),
        ("availability-inf.yaml", "pools[0].availability", "inf"),
        ("capex-inf.yaml", "pools[1].cost.capex_per_gpu", "inf"),
        ("power-price-inf.yaml", "pools[1].cost.power_price_per_mwh", "inf"),
        ("amortize-huge.yaml", "pools[1].cost.amortize_years", "1e+308"),
        ("demand-inf.yaml", "workloads[0].demand.value", "inf"),
        ("demand-huge.yaml", "workloads[0].demand.value", "1e+308"),
        ("throughput-inf.yaml", "workloads[1].throughput.h100-sxm", "inf"),
        ("throughput-tiny.yaml", "workloads[1].throughput.mi300x", "1e-300"),
        ("params-huge.yaml", "workloads[0].model.params_b", "1e+308"),
        ("seq-len-huge.yaml", "workloads[0].model.seq_len", "1e+30"),
        ("max-accelerators-nan.yaml", "workloads[1].max_accelerators", "nan"),
        ("latency-slo-inf.yaml", "workloads[0].slo.max_token_latency_ms", "inf"),
        ("scaleup-nan.yaml", "workloads[0].needs.min_scaleup_gbps", "nan"),
        ("power-cap-inf.yaml", "limits.power_cap_mw", "inf"),
        ("share-nan.yaml", "limits.vendor_share.max.nvidia", "nan"),
        ("tdp-huge.yaml", "catalog[0].tdp_w", "1e+308"),
        ("build-named-like-pool.yaml", "builds[0].name (nv)", "'nv'"),
        ("pool-named-buy.yaml", "pools[0].name (nv+buy)", "may not end in '+buy'"),
        ("every-pool-to-buy.yaml", "field 'pools'", "2 pools of count 0"),
        ("max-purchase-not-purchasable.yaml", "pools[0].max_purchase (nv)", "not purchasable"),
        ("share-vendor-twice.yaml", "limits.vendor_share.max", "as 'nvidia' and 'NVIDIA'"),
        ("catalog-relative.yaml", "catalog[1].relative", "under `builds:`"),
        ("min-share-only-to-buy.yaml", "limits.vendor_share.min.amd", "no pool has a amd"),
        ("purchasable-yes.yaml", "pools[1].purchasable (amd)", "must be true or false (got 'yes')"),
        ("purchasable-one.yaml", "pools[1].purchasable (amd)", "must be true or false (got 1)"),
        ("rent-only-zero.yaml", "catalog[0].rent_only", "must be true or false (got 0)"),
    ],
    "procurement": [
        ("misspelt-key.yaml", "'discount_rte'", "did you mean 'discount_rate'"),
        ("budget-nan.yaml", "limits.budget_per_year", "nan"),
        ("budget-inf.yaml", "limits.budget_per_year[1]", "inf"),
        ("power-cap-inf.yaml", "limits.power_cap_gw", "inf"),
        ("growth-nan.yaml", "growth.serve", "nan"),
        ("price-inf.yaml", "offers[0].price_per_gpu", "inf"),
        ("installed-huge.yaml", "installed[0].count", "1e+30"),
        ("discount-nan.yaml", "discount_rate", "nan"),
        ("power-price-inf.yaml", "power_price_per_mwh", "inf"),
        ("discount-null.yaml", "discount_rate", "(got null)"),
        ("time-limit-inf.yaml", "time_limit_s", "inf"),
        ("demand-inf.yaml", "workloads[0].demand.value", "inf"),
        ("max-nodes-huge.yaml", "offers[0].max_nodes_per_year", "1e+30"),
        ("share-vendor-twice.yaml", "limits.vendor_share.max", "as 'nvidia' and 'NVIDIA'"),
        ("build-ships-after-horizon.yaml", "builds[0].first_ship_year", "2030"),
        ("offer-after-horizon.yaml", "offers[1].available_from", "after the last year"),
        ("build-vendor-blank.yaml", "builds[0].vendor", "must not be blank"),
        ("build-node-huge.yaml", "builds[0].power_w", "70000 kW a node"),
        ("tier-vendor-unknown.yaml", "tiers[1].vendors[0]", "unknown vendor; known: amd"),
        ("needs-vendor-unknown.yaml", "workloads[0].needs.vendors[0]", "unknown vendor"),
        ("needs-accelerator-unknown.yaml", "workloads[0].needs.accelerators[0]", "'h1000'"),
    ],
    "build-file": [
        ("ship-after-horizon.yaml", "build.first_ship_year", "after the last year"),
        ("max-units-per-year.yaml", "build.max_units_per_year", "1000"),
        ("misspelt-key.yaml", "build.unit_cots", "did you mean 'unit_cost'"),
        ("nre-nan.yaml", "build.nre", "nan"),
        ("nre-huge.yaml", "build.nre", "1e+308"),
        ("unit-cost-zero.yaml", "build.unit_cost", "(got 0)"),
        ("power-inf.yaml", "build.power_w", "inf"),
        ("slip-above-one.yaml", "build.slip_probability", "1.5"),
        ("performance-tiny.yaml", "build.performance.serve", "1e-300"),
        ("units-negative.yaml", "units[1]", "-1"),
        ("units-too-few.yaml", "field 'units'", "2 values for 3 years"),
        ("years-not-consecutive.yaml", "years[2]", "2030"),
        ("discount-nan.yaml", "discount_rate", "nan"),
        ("reference-unknown.yaml", "build.relative_to", "'b2000'"),
        ("reference-itself.yaml", "build.relative_to", "'asic'"),
        ("name-taken.yaml", "build.name", "already has b200"),
        ("instead-two-prices.yaml", "field 'instead'", "are alternatives"),
        ("instead-unrelated.yaml", "instead.relative_performance", "h100-sxm"),
        ("work-unrated.yaml", "field 'work'", "'train'"),
        ("vendor-blank.yaml", "build.vendor", "must not be blank"),
        ("power-tiny-node.yaml", "build.power_w", "0.008 kW a node"),
        ("instead-reference-not-one.yaml", "instead.relative_performance", "1 x itself"),
    ],
    "deal": [
        ("misspelt-key.yaml", "'valuaton_date'", "did you mean 'valuation_date'"),
        ("deployment-not-cumulative.yaml", "deployment[3].gw", "2.5"),
        ("paths-huge.yaml", "monte_carlo.paths", "1000000000000"),
        ("steps-huge.yaml", "monte_carlo.steps_per_year", "10000"),
        ("expiry-far.yaml", "warrant.expiry", "9999"),
        ("capacity-inf.yaml", "capacity[0].gw", "inf"),
        ("price-nan.yaml", "price.per_gw", "nan"),
        ("strike-inf.yaml", "warrant.strike", "inf"),
        ("spot-inf.yaml", "stock.spot", "inf"),
        ("volatility-nan.yaml", "stock.volatility", "nan"),
        ("risk-free-nan.yaml", "stock.risk_free", "nan"),
        ("costing-power-inf.yaml", "costing.power_price_per_mwh", "inf"),
        ("pue-nan.yaml", "pue", "nan"),
        ("shares-huge.yaml", "warrant.shares", "1e+308"),
        ("vendor-mismatch.yaml", "vendor", "nvidia"),
        ("binding-yes.yaml", "capacity[0].binding", "must be true or false (got 'yes')"),
    ],
    "profile": [
        ("misspelt-key.json", "results[0].units_per_sec", "did you mean 'units_per_s'"),
        ("duplicate-key.json", "'preset' is given twice", "lines 7 and 8"),
        ("units-inf.json", "results[0].units_per_s", "inf"),
        ("latency-nan.json", "results[3].latency.p50_ms", "nan"),
        ("p99-below-p50.json", "results[3].latency.p99_ms", "1.0"),
        ("memory-inf.json", "results[0].peak_memory_gb", "inf"),
        ("joules-nan.json", "results[0].joules_per_unit", "nan"),
        ("device-memory-inf.json", "device.memory_gb", "inf"),
        ("repeats-huge.json", "results[0].repeats", "1e+30"),
    ],
    "jobs": [
        ("misspelt-key.yaml", "jobs[1].workoad", "did you mean 'workload'"),
        ("args-date.yaml", "jobs[1].run.args.day", "'2026-01-01'"),
        ("args-binary.yaml", "jobs[1].run.args.blob", "binary data"),
        ("args-set.yaml", "jobs[1].run.args.tags", "a set (!!set"),
        ("args-nan.yaml", "jobs[1].run.args.seconds", "(got nan)"),
        ("count-huge.yaml", "jobs[1].count", "1000000000000.0"),
        ("count-bool.yaml", "jobs[1].count", "true"),
        ("count-inf.yaml", "jobs[1].count", "inf"),
    ],
    "benchmarks": [
        ("misspelt-key.yaml", "results[0] (r1).througput", "did you mean 'throughput'"),
        ("throughput-nan.yaml", "results[0] (r1).throughput", "nan"),
        ("throughput-inf.yaml", "results[1] (r2).throughput", "inf"),
        ("count-huge.yaml", "results[0] (r1).count", "1e30"),
        ("count-bool.yaml", "results[2] (r3).count", "true"),
        ("minutes-nan.yaml", "results[2] (r3).minutes", "nan"),
        ("latency-inf.yaml", "results[1] (r2).token_latency_ms", "inf"),
        ("params-huge.yaml", "models.m70.params_b", "1e308"),
        ("train-tokens-inf.yaml", "models.m70.train_tokens", "inf"),
        ("minutes-on-offline.yaml", "results[0] (r1).minutes", "12.0"),
        ("unknown-accelerator.yaml", "results[1] (r2).accelerator", "'mi3000x'"),
        ("unknown-model.yaml", "results[2] (r3).model", "'m7'"),
    ],
    "plan": [
        ("accelerators-zero.json", "assignments[1].accelerators", "0"),
        ("accelerators-negative.json", "assignments[1].accelerators", "-1"),
        ("accelerators-nan.json", "assignments[1].accelerators", "nan"),
        ("accelerators-inf.json", "assignments[1].accelerators", "inf"),
        ("assignments-not-a-list.json", "assignments", "'all of them'"),
        ("missing-pool.json", "assignments[1].pool", "required"),
        ("duplicate-key.json", "'status' is given twice", "lines 3 and 4"),
    ],
}

# --- command-line options: (id, argv, what the message names) ------------------------------------

DEAL = str(VALID / "deal.yaml")
SCENARIO = str(VALID / "scenario.yaml")
JOBS = str(VALID / "jobs.yaml")
RUN = ("run", JOBS, "--plan", "{plan}", "--state-dir", "{tmp}/state", "--profiles-out", "{tmp}/p")
OPTIONS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("tco --capex nan", ("tco", "h100-sxm", "--capex", "nan"), ("--capex", "nan")),
    ("tco --capex inf", ("tco", "h100-sxm", "--capex", "inf"), ("--capex", "inf")),
    (
        "tco --power-price -70",
        ("tco", "h100-sxm", "--power-price", "-70"),
        ("--power-price", "-70"),
    ),
    ("tco --years 1e308", ("tco", "h100-sxm", "--years", "1e308"), ("--years", "1e+308")),
    ("tco --rate nan", ("tco", "h100-sxm", "--rate", "nan"), ("--rate", "nan")),
    ("tco --pue inf", ("tco", "h100-sxm", "--pue", "inf"), ("--pue", "inf")),
    (
        "deal --paths 1e11",
        ("deal", DEAL, "--paths", "100000000000"),
        ("--paths", "100000000000"),
    ),
    (
        "leverage --precision 1e-16",
        ("leverage", SCENARIO, "--precision", "1e-16"),
        ("--precision", "1e-16"),
    ),
    (
        "leverage --precision nan",
        ("leverage", SCENARIO, "--precision", "nan"),
        ("--precision", "nan"),
    ),
    (
        "frontier --points 1e8",
        ("frontier", SCENARIO, "--points", "100000000"),
        ("--points", "100000000"),
    ),
    ("run --retries -1", (*RUN, "--retries", "-1"), ("--retries", "-1")),
    ("run --timeout nan", (*RUN, "--timeout", "nan"), ("--timeout", "nan")),
    ("plan --method", ("plan", SCENARIO, "--method", "simplex"), ("--method", "'simplex'")),
    (
        "leverage --address local",
        ("leverage", SCENARIO, "--address", "local"),
        ("--address", "'local'", "--workers"),
    ),
    (
        "leverage --address a:b:c",  # printed as given, not as an emoji code
        ("leverage", SCENARIO, "--address", "a:b:c"),
        ("--address", "'a:b:c'"),
    ),
]
# `-` for an output is not standard output: refused, never a file named `-`
PROCUREMENT = str(VALID / "procurement.yaml")
BUILD = str(VALID / "build.yaml")
OPTIONS += [
    (f"{' '.join(argv[::2])} {option} -", (*argv, option, "-"), (option, "'-'", "standard output"))
    for argv, option in [
        (("plan", SCENARIO), "--out"),
        (("plan", SCENARIO), "--html"),
        (("plan", SCENARIO), "--matrix-out"),
        (("frontier", SCENARIO), "--html"),
        (("procure", PROCUREMENT), "--out"),
        (("build-vs-buy", BUILD), "--out"),
        (("deal", DEAL), "--html"),
        (("probe",), "--out"),
    ]
]
USAGE: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("tco --capex abc", ("tco", "h100-sxm", "--capex", "abc"), ("Invalid value", "--capex")),
    ("deal --seed many", ("deal", DEAL, "--seed", "many"), ("Invalid value", "--seed")),
    ("plan --bogus", ("plan", SCENARIO, "--bogus"), ("No such option", "--bogus")),
    ("plan, no scenario", ("plan",), ("Missing argument", "SCENARIO")),
    ("run, no --plan", ("run", JOBS), ("Missing option", "--plan")),
]


def _cases() -> Iterator[Any]:
    def param(case: Case) -> Any:
        return pytest.param(case, id=case.id)

    for kind, commands in COMMANDS.items():
        for name, expect in COMMON.items():
            if name.endswith(".yaml") and kind not in YAML_KINDS:
                continue
            for command, argv in commands.items():
                file = str(FILES / "common" / name)
                yield param(
                    Case(
                        f"{kind}: {command} common/{name}",
                        tuple(a.replace("{file}", file) for a in argv),
                        COMMON_BY_KIND.get((kind, name), expect),
                        names=file,
                    )
                )
        for name, field, value in KIND_FILES[kind]:
            file = str(FILES / kind / name)
            names = file
            if name.startswith("names-"):  # the file the scenario names
                names = "alias-bomb.yaml" if "bomb" in name else "deep.json"
            for command, argv in commands.items():
                yield param(
                    Case(
                        f"{kind}: {command} {kind}/{name}",
                        tuple(a.replace("{file}", file) for a in argv),
                        (field, value),
                        names=names,
                    )
                )
    for case_id, argv, expect in OPTIONS:
        yield param(Case(case_id, argv, expect))
    for case_id, argv, expect in USAGE:
        yield param(Case(case_id, argv, expect, usage=True))


CASES = list(_cases())


# --- running the commands ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None  # None: killed after KILL_AFTER_S
    stdout: str
    stderr: str
    cpu_s: float
    peak_rss: int
    written: tuple[str, ...]  # what the command left in its output folder


class Runner:
    """WORKERS zygote processes (zygote.py), each running one command at a time in a child."""

    def __init__(self) -> None:
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        for _ in range(WORKERS):
            self._idle.put(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).with_name("zygote.py"))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=ENV,
                )
            )

    def run(self, argv: tuple[str, ...], plan: str = "") -> Outcome:
        with (
            tempfile.TemporaryDirectory(prefix="hostile-") as tmp,
            tempfile.TemporaryDirectory(prefix="hostile-streams-") as streams,
        ):
            request = {
                "argv": [a.replace("{tmp}", tmp).replace("{plan}", plan) for a in argv],
                "cwd": tmp,
                "stdout": f"{streams}/out",
                "stderr": f"{streams}/err",
                "kill_after": KILL_AFTER_S,
            }
            zygote = self._idle.get()
            try:
                assert zygote.stdin is not None and zygote.stdout is not None
                zygote.stdin.write(json.dumps(request) + "\n")
                zygote.stdin.flush()
                report = json.loads(zygote.stdout.readline())
            finally:
                self._idle.put(zygote)
            return Outcome(
                exit_code=report["exit_code"],
                stdout=Path(request["stdout"]).read_text("utf-8", "replace"),
                stderr=Path(request["stderr"]).read_text("utf-8", "replace"),
                cpu_s=report["cpu_s"],
                peak_rss=report["peak_rss"],
                written=tuple(sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*"))),
            )

    def close(self) -> None:
        while not self._idle.empty():
            zygote = self._idle.get()
            assert zygote.stdin is not None and zygote.stdout is not None
            zygote.stdin.close()
            zygote.wait(timeout=30)
            zygote.stdout.close()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    pool = Runner()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def valid_plan(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A plan of the valid scenario, for the job files to run against."""
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    outcome = runner.run(("plan", SCENARIO, "--out", str(path)))
    assert outcome.exit_code == 0, outcome.stderr
    return str(path)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, runner: Runner, valid_plan: str) -> dict[str, Outcome]:
    """Every selected case run once, WORKERS at a time, before the first is checked."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "callspec", None) and isinstance(item.callspec.params.get("case"), Case)
    ]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = pool.map(lambda c: runner.run(c.argv, valid_plan), selected)
        return {case.id: outcome for case, outcome in zip(selected, results, strict=True)}


@pytest.mark.parametrize("case", CASES)
def test_every_command_refuses_every_hostile_file(case: Case, outcomes: dict[str, Outcome]):
    got = outcomes[case.id]
    text = " ".join((got.stderr + got.stdout).split())
    assert got.exit_code is not None, f"still running after {KILL_AFTER_S:g} s"
    assert "Traceback" not in text, got.stderr[-3000:]
    assert got.exit_code == case.exit_code, text[-2000:]
    assert got.cpu_s < CPU_LIMIT_S, f"{got.cpu_s:.1f} s of CPU"
    assert got.peak_rss < RSS_LIMIT, f"peak RSS {got.peak_rss / 2**20:.0f} MiB"
    assert got.written == (), f"wrote {got.written}"
    if not case.usage:
        lines = [line for line in got.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), got.stderr[-3000:]
        assert case.names in text
    lowered = text.lower()
    missing = [e for e in case.expect if e.lower() not in lowered]
    assert not missing, f"message does not name {missing}: {text[-1500:]}"


@pytest.mark.parametrize(
    "argv",
    [
        ("procure", str(VALID / "procurement.yaml"), "--out", "{tmp}/p.json"),
        ("build-vs-buy", str(VALID / "build.yaml"), "--out", "{tmp}/b.json"),
        ("deal", DEAL, "--no-sensitivity"),
        ("plan", SCENARIO, "--profiles", str(VALID / "profile.json")),
        ("calibrate", "--benchmarks", str(VALID / "benchmarks.yaml")),
        ("plan", SCENARIO, "--benchmarks", str(VALID / "benchmarks.yaml")),
    ],
    ids=["procure", "build-vs-buy", "deal", "plan --profiles", "calibrate", "plan --benchmarks"],
)
def test_the_valid_bases_pass(argv: tuple[str, ...], runner: Runner, valid_plan: str):
    """The hostile files are their valid base with one edit: the base itself must pass."""
    got = runner.run(argv, valid_plan)
    assert got.exit_code == 0, got.stderr[-2000:]
