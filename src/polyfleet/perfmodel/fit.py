"""Stack factors fitted to published results, and the held-out check of how well they predict.

Each result is estimated with the bare roofline on its accelerator (the catalog's figures, the
result's precision and model), and compared with what was published, per accelerator:

    ratio = published / estimated       (training: in FLOPs, so a LoRA result compares with the
                                         estimate's 6 FLOPs per parameter per token)

For each workload kind, the log ratios are averaged:
  - a stack with at least `MIN_RESULTS` results gets a factor of its own: exp(mean of its logs);
  - any other stack (too few results, or none) gets the kind's pooled factor: exp(mean of all);
  - a kind with no results keeps 1.0 (assumed).
Three results is the least that leaves a residual to judge a factor by once it is fitted; with
fewer, one stack's factor would be one system's result, chip quirks and all. Each kind's fit
reports its degrees of freedom: results - factors (own ones, plus one pooled where it stands in).

Splits. Whether the data asks for more parameters than that is put to it, never assumed: for a
stack with a factor of its own, its results of one precision (or one scenario) other than its most
common one, at least two of them and leaving at least three, would get a factor of their own; the
F-test of that fit against the kind's, F = (SS0 - SS1) / (SS1 / (n - k - 1)) on the sums of
squared log residuals, says whether the split explains significantly more (p < 0.05). Splits are
reported, not applied: results of one system in two scenarios are not independent, so a split
carried by one or two systems says less than its F suggests.

Intervals (about 90 %): the residuals left after the fit, s = sqrt(sum r^2 / (n - factors)), give a
cell of an own factor from n results the half-width t(0.95, dof) · s · sqrt(1 + 1/n) on a log scale;
a pooled factor's uses the spread of all the kind's logs around their mean; an uncalibrated cell
gets the roofline's own error, t · rms(log ratio) over every result.

Held out: for a kind with results in several rounds, fit on one round and predict the next (the
splits are asked of that round too); for a kind with one round, leave out both accelerators of each
pair, fit on the rest and predict the pair. Each pair of results of one scenario on different
stacks is compared as a ratio: error = (predicted a/b) / (published a/b) - 1.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import special  # not scipy.stats: importing it takes a second of every plan

from polyfleet.catalog import Catalog
from polyfleet.catalog._catalog import STACKS
from polyfleet.errors import InputError
from polyfleet.inputs.benchmarks import (
    PACKAGED,
    BenchmarkResult,
    LoadedBenchmarks,
    load_benchmarks,
    merge,
)
from polyfleet.inputs.model_shape import ModelShape
from polyfleet.inputs.scenario import Demand, Slo, Workload
from polyfleet.perfmodel.matrix import Reason, matrix_for
from polyfleet.perfmodel.stacks import KindFit, StackFactor, StackFactors

__all__ = [
    "HOLDOUT_TARGETS",
    "MIN_RESULTS",
    "Holdout",
    "Observation",
    "PairError",
    "SplitTest",
    "calibration_record",
    "factors_from",
    "fit_factors",
    "holdout",
    "load_tables",
    "observe",
    "packaged_benchmarks",
    "split_tests",
    "stack_factors",
]

MIN_RESULTS = 3
_CONFIDENCE = 0.95  # one-sided: the interval covers about 90 %
#: A split (module docstring) the data supports: its F-test's p-value below this.
SPLIT_SIGNIFICANCE = 0.05
#: The packaged table of published results, beside this module.
PACKAGED_FILE = "benchmarks.yaml"


def packaged_benchmarks(catalog: Catalog) -> LoadedBenchmarks:
    """The table polyfleet ships (MLPerf results from reference/accelerators.md §3)."""
    raw = resources.files("polyfleet.perfmodel").joinpath(PACKAGED_FILE).read_bytes()
    return load_benchmarks(raw, catalog, file=PACKAGED_FILE)


def load_tables(specs: Sequence[str | Path], catalog: Catalog) -> LoadedBenchmarks:
    """The tables named by `specs` (paths, or `packaged` for the shipped one) merged."""
    tables = [
        packaged_benchmarks(catalog) if str(s) == PACKAGED else load_benchmarks(s, catalog)
        for s in specs
    ]
    return merge(tables) if len(tables) != 1 else tables[0]


@dataclass(frozen=True)
class Observation:
    """One published result against the bare roofline estimate of the same thing."""

    result: BenchmarkResult
    stack: str | None
    published: float  # per accelerator, in the estimate's units (tokens/s; FLOP-equivalent)
    estimated: float

    @property
    def kind(self) -> str:
        return self.result.kind

    @property
    def ratio(self) -> float:
        return self.published / self.estimated


def _workload(row: BenchmarkResult, bench: LoadedBenchmarks) -> Workload:
    m = bench.models[row.model]
    shape = {
        "params_b": m.params_b,
        "active_params_b": m.active_params_b,
        "precision": row.precision,
        "seq_len": m.seq_len,
        "prompt_tokens": m.prompt_tokens,
        "output_tokens": m.output_tokens,
        "layers": m.layers,
        "kv_dim": m.kv_dim,
    }
    return Workload(
        name=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        tier=2,
        model=ModelShape.model_validate({k: v for k, v in shape.items() if v is not None}),
        demand=Demand(value=1.0, unit="tokens/s"),
        slo=Slo(max_token_latency_ms=row.token_latency_ms),
    )


def _published(row: BenchmarkResult, bench: LoadedBenchmarks) -> float:
    """Per accelerator, in the units the estimate is in."""
    if row.scenario != "training":
        return float(row.throughput or 0.0) / row.count
    m = bench.models[row.model]
    tokens_per_s = (
        float(row.throughput)
        if row.throughput is not None
        else float(m.train_tokens or 0.0) / (float(row.minutes or 0.0) * 60.0)
    )
    return tokens_per_s / row.count * m.train_flop_per_param / 6.0


def observe(bench: LoadedBenchmarks, catalog: Catalog) -> list[Observation]:
    """Every result of `bench` beside its bare roofline estimate."""
    rows = bench.results
    if not rows:
        return []
    accs = list(dict.fromkeys(r.accelerator for r in rows))
    matrix = matrix_for([_workload(r, bench) for r in rows], {}, catalog, accs)
    col = np.array([accs.index(r.accelerator) for r in rows])
    est = matrix.value[np.arange(len(rows)), col]
    out = []
    for i, row in enumerate(rows):
        if not est[i] > 0:
            why = matrix.reason_text(i, int(col[i])) or Reason(int(matrix.reason[i, col[i]])).name
            raise InputError(
                f"the model cannot estimate this result on {row.accelerator}: {why}",
                file=", ".join(bench.files),
                field=f"results ({row.id})",
            )
        out.append(Observation(row, catalog[row.accelerator].stack, _published(row, bench), est[i]))
    return out


def _t(dof: int) -> float:
    return float(special.stdtrit(dof, _CONFIDENCE)) if dof > 0 else math.inf  # t quantile


def _uncalibrated_spread(obs: Sequence[Observation]) -> float:
    if not obs:
        return 0.0
    logs = np.log([o.ratio for o in obs])
    return _t(len(obs)) * float(np.sqrt(np.mean(logs**2)))


def fit_factors(
    obs: Sequence[Observation],
    *,
    min_results: int = MIN_RESULTS,
    files: Sequence[str] = (),
) -> StackFactors:
    """Factors per (stack, kind) from `obs`, by the rule in the module docstring."""
    entries: list[StackFactor] = []
    fits: list[KindFit] = []
    uncal = _uncalibrated_spread(obs)
    for kind in dict.fromkeys(o.kind for o in obs):
        k_obs = [o for o in obs if o.kind == kind]
        logs = np.log([o.ratio for o in k_obs])
        stacks = [o.stack for o in k_obs]
        n = len(k_obs)
        pooled = float(logs.mean())
        counts = {s: stacks.count(s) for s in dict.fromkeys(stacks)}
        own = {
            s: float(logs[[x == s for x in stacks]].mean())
            for s, c in counts.items()
            if c >= min_results
        }
        centre = np.array([own.get(s, pooled) for s in stacks])
        resid = logs - centre
        n_factors = len(own) + (1 if any(s not in own for s in stacks) else 0)
        dof = n - n_factors
        s_fit = float(np.sqrt((resid**2).sum() / dof)) if dof > 0 else math.nan
        s_pool = float(logs.std(ddof=1)) if n > 1 else math.nan
        fits.append(KindFit(kind, n, n_factors, s_fit))
        ids = tuple(o.result.id for o in k_obs)
        for s, mu in own.items():
            spread = _t(dof) * s_fit * math.sqrt(1.0 + 1.0 / counts[s])
            mine = tuple(o.result.id for o in k_obs if o.stack == s)
            entries.append(StackFactor(s, kind, math.exp(mu), "own", mine, spread))
        pooled_spread = _t(n - 1) * s_pool * math.sqrt(1.0 + 1.0 / n) if n > 1 else max(uncal, 0.0)
        for s in (*STACKS, None):
            if s in own:
                continue
            have = counts.get(s, 0)
            note = (
                f"{have} result(s) on {s or 'an unknown stack'}, fewer than {min_results}: "
                f"the factor of all {n} {kind} results stands in"
            )
            entries.append(
                StackFactor(s, kind, math.exp(pooled), "pooled", ids, pooled_spread, note)
            )
    return StackFactors(tuple(entries), tuple(files), uncal, tuple(fits))


def stack_factors(bench: LoadedBenchmarks, catalog: Catalog) -> StackFactors:
    """The factors `bench`'s results give on `catalog`'s figures."""
    return fit_factors(observe(bench, catalog), files=bench.files)


def factors_from(
    specs: Sequence[str | Path] = (PACKAGED,), catalog: Catalog | None = None
) -> StackFactors | None:
    """The factors of the tables `specs` names (`packaged`: the shipped one); None for none."""
    if not specs:
        return None
    from polyfleet.catalog import load_catalog

    cat = catalog if catalog is not None else load_catalog()
    return stack_factors(load_tables(specs, cat), cat)


# ---------------------------------------------------------------------------------------------
# splits: does a stack's subset ask for a factor of its own?

#: The result fields a split may be drawn on.
SPLIT_BY = ("precision", "scenario")


@dataclass(frozen=True)
class SplitTest:
    """The F-test of a kind's fit with one more factor, for one stack's results of one precision
    (or scenario), against the fit without it. A diagnostic: the fit applies no split."""

    kind: str
    stack: str
    attribute: str  # one of SPLIT_BY
    value: str
    results: tuple[str, ...]  # ids of the results split off
    systems: int  # distinct (round, system) among them: results of one system are not independent
    relative: float  # their mean ratio over that of the stack's other results
    f: float
    dof: tuple[int, int]
    p: float
    fitted_on: str = ""

    @property
    def supported(self) -> bool:
        return self.p < SPLIT_SIGNIFICANCE

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "stack": self.stack,
            "split": f"{self.attribute}={self.value}",
            "results": list(self.results),
            "systems": self.systems,
            "relative_factor": self.relative,
            "f": self.f if math.isfinite(self.f) else None,
            "dof": list(self.dof),
            "p": self.p,
            "supported": self.supported,
            "fitted_on": self.fitted_on,
        }


def _within_ss(logs: np.ndarray, keys: Sequence[object]) -> tuple[float, int]:
    """Sum of squared residuals around each group's mean, and the number of groups."""
    groups = list(dict.fromkeys(keys))
    ss = 0.0
    for g in groups:
        x = logs[[k == g for k in keys]]
        ss += float(((x - x.mean()) ** 2).sum())
    return ss, len(groups)


def split_tests(
    obs: Sequence[Observation], *, min_results: int = MIN_RESULTS, fitted_on: str = ""
) -> tuple[SplitTest, ...]:
    """For each stack with a factor of its own and each value of a SPLIT_BY field other than the
    stack's most common one, held by at least two of its results (one would leave no residual)
    while at least `min_results` remain: the F-test of giving those results a factor of their
    own (module docstring)."""
    out: list[SplitTest] = []
    for kind in dict.fromkeys(o.kind for o in obs):
        k_obs = [o for o in obs if o.kind == kind]
        logs = np.log([o.ratio for o in k_obs])
        stacks = [o.stack for o in k_obs]
        own = [s for s, c in Counter(stacks).items() if s is not None and c >= min_results]
        base = [(s in own, s if s in own else None) for s in stacks]
        ss0, _ = _within_ss(logs, base)
        for stack in own:
            mine = [i for i, s in enumerate(stacks) if s == stack]
            for attr in SPLIT_BY:
                tally = Counter(str(getattr(k_obs[i].result, attr)) for i in mine)
                common = max(sorted(tally), key=lambda v: tally[v])
                for value in sorted(set(tally) - {common}):
                    inside = [i for i in mine if str(getattr(k_obs[i].result, attr)) == value]
                    if len(inside) < 2 or len(mine) - len(inside) < min_results:
                        continue
                    keys = [(*b, i in inside) for i, b in enumerate(base)]
                    ss1, k1 = _within_ss(logs, keys)
                    dof = len(k_obs) - k1
                    if dof < 1:
                        continue
                    f = (ss0 - ss1) / (ss1 / dof) if ss1 > 0 else math.inf
                    rest = [i for i in mine if i not in inside]
                    out.append(
                        SplitTest(
                            kind=kind,
                            stack=stack,
                            attribute=attr,
                            value=value,
                            results=tuple(k_obs[i].result.id for i in inside),
                            systems=len(
                                {(k_obs[i].result.round, k_obs[i].result.system) for i in inside}
                            ),
                            relative=math.exp(logs[inside].mean() - logs[rest].mean()),
                            f=f,
                            dof=(1, dof),
                            p=float(special.fdtrc(1, dof, f))
                            if math.isfinite(f)
                            else 0.0,  # F(1, dof) tail
                            fitted_on=fitted_on,
                        )
                    )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# held out


@dataclass(frozen=True)
class PairError:
    """Predicted vs published ratio of two results of one scenario on different stacks."""

    kind: str
    scenario: str
    round: str
    numerator: str  # result ids
    denominator: str
    accelerators: tuple[str, str]
    predicted: float
    published: float
    fitted_on: str

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1.0

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "scenario": self.scenario,
            "round": self.round,
            "pair": f"{self.accelerators[0]}/{self.accelerators[1]}",
            "numerator": self.numerator,
            "denominator": self.denominator,
            "predicted_ratio": self.predicted,
            "published_ratio": self.published,
            "error": self.error,
            "fitted_on": self.fitted_on,
        }


@dataclass(frozen=True)
class Holdout:
    pairs: tuple[PairError, ...]
    methods: dict[str, str]  # kind -> how it was held out
    splits: tuple[SplitTest, ...] = ()  # asked of each earlier round a later one is predicted from
    fits: tuple[tuple[str, KindFit], ...] = ()  # (fitted on, the fit's degrees of freedom)

    def summary(self, kind: str | None = None) -> dict[str, float | int | None]:
        errs = [abs(p.error) for p in self.pairs if kind is None or p.kind == kind]
        if not errs:
            return {"pairs": 0, "median": None, "worst": None}
        return {"pairs": len(errs), "median": float(np.median(errs)), "worst": max(errs)}

    def to_dict(self) -> dict[str, object]:
        kinds = list(dict.fromkeys(p.kind for p in self.pairs))
        return {
            "pairs": [p.to_dict() for p in self.pairs],
            "methods": dict(self.methods),
            "summary": {"all": self.summary(), **{k: self.summary(k) for k in kinds}},
            "splits": [t.to_dict() for t in self.splits],
            "fits": [{"fitted_on": on, **f.to_dict()} for on, f in self.fits],
        }


def _round_key(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name)) or (0,)


def _pairs(
    predicted: dict[str, float], targets: Sequence[Observation], kind: str, fitted_on: str
) -> list[PairError]:
    out = []
    for i, a in enumerate(targets):
        for b in targets[i + 1 :]:
            ra, rb = a.result, b.result
            if ra.scenario != rb.scenario or a.stack == b.stack:
                continue
            num, den = (a, b) if (a.stack or "") > (b.stack or "") else (b, a)
            out.append(
                PairError(
                    kind=kind,
                    scenario=ra.scenario,
                    round=ra.round,
                    numerator=num.result.id,
                    denominator=den.result.id,
                    accelerators=(num.result.accelerator, den.result.accelerator),
                    predicted=predicted[num.result.id] / predicted[den.result.id],
                    published=num.published / den.published,
                    fitted_on=fitted_on,
                )
            )
    return out


def _predict(fit: StackFactors, obs: Sequence[Observation]) -> dict[str, float]:
    return {o.result.id: fit.get(o.stack, o.kind).factor * o.estimated for o in obs}


def holdout(obs: Sequence[Observation], *, min_results: int = MIN_RESULTS) -> Holdout:
    """Every cross-stack pair predicted from a fit that did not see it (module docstring)."""
    pairs: list[PairError] = []
    methods: dict[str, str] = {}
    splits: list[SplitTest] = []
    fits: list[tuple[str, KindFit]] = []
    for kind in dict.fromkeys(o.kind for o in obs):
        k_obs = [o for o in obs if o.kind == kind]
        rounds = sorted({o.result.round for o in k_obs}, key=_round_key)
        if len(rounds) > 1:
            steps = list(itertools.pairwise(rounds))
            methods[kind] = "; ".join(f"fit on {a}, predict {b}" for a, b in steps)
            for before, after in steps:
                earlier = [o for o in k_obs if o.result.round == before]
                fit = fit_factors(earlier, min_results=min_results)
                fits += [(f"round {before}", f) for f in fit.fits]
                splits += split_tests(earlier, min_results=min_results, fitted_on=f"round {before}")
                targets = [o for o in k_obs if o.result.round == after]
                pairs += _pairs(_predict(fit, targets), targets, kind, f"round {before}")
            continue
        methods[kind] = (
            f"one round ({rounds[0]}): each pair predicted by a fit without both its accelerators"
        )
        for pair in _pairs({o.result.id: 1.0 for o in k_obs}, k_obs, kind, ""):
            left_out = set(pair.accelerators)
            rest = [o for o in k_obs if o.result.accelerator not in left_out]
            if not rest:
                continue
            fit = fit_factors(rest, min_results=min_results)
            both = [o for o in k_obs if o.result.id in (pair.numerator, pair.denominator)]
            pred = _predict(fit, both)
            pairs.append(
                PairError(
                    **{
                        **pair.__dict__,
                        "predicted": pred[pair.numerator] / pred[pair.denominator],
                        "fitted_on": f"{rounds[0]} without {' and '.join(sorted(left_out))}",
                    }
                )
            )
    return Holdout(tuple(pairs), methods, tuple(splits), tuple(fits))


#: Issue 15's targets for the held-out cross-stack ratio errors.
HOLDOUT_TARGETS = {"median": 0.10, "worst": 0.20}


def calibration_record(
    specs: Sequence[str | Path], catalog: Catalog, *, with_holdout: bool = False
) -> dict[str, object]:
    """What `polyfleet calibrate` reports: the factors, every result against its estimate, and
    (with `with_holdout`) the held-out pair errors."""
    bench = load_tables(specs, catalog)
    obs = observe(bench, catalog)
    fit = fit_factors(obs, files=bench.files)
    rows = []
    for o in obs:
        used = fit.get(o.stack, o.kind)
        rows.append(
            {
                "id": o.result.id,
                "round": o.result.round,
                "scenario": o.result.scenario,
                "accelerator": o.result.accelerator,
                "stack": o.stack,
                "published_per_accelerator": o.published,
                "estimated": o.estimated,
                "ratio": o.ratio,
                "factor": used.factor,
                "residual": math.log(o.ratio / used.factor),
                "source": o.result.source,
            }
        )
    out: dict[str, object] = {
        **fit.to_dict(),
        "min_results": MIN_RESULTS,
        "splits": [t.to_dict() for t in split_tests(obs)],
        "results": rows,
        "assumptions": {name: list(m.assumptions) for name, m in bench.models.items()},
    }
    if with_holdout:
        out["holdout"] = {**holdout(obs).to_dict(), "targets": dict(HOLDOUT_TARGETS)}
    return out
