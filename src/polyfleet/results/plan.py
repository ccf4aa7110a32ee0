"""The plan record (`polyfleet plan --json / --out`): a placement on the scenario's own names.

It lists the non-zero assignments, each workload and pool, the vendor shares, every power cap and
binding limit by its structured key, the assumptions the costs took, the deals, the calibration
and the timings; an infeasible plan carries its diagnosis instead of the placement. `polyfleet
run` reads a plan through this record (`load_plan`), so a damaged or hand-edited plan is one
error naming the file, field path and value before the ledger or the cluster is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from polyfleet.inputs.convert import FieldError
from polyfleet.results.base import Part, Record, omitted
from polyfleet.results.calibration import StackFactorsUsed
from polyfleet.results.common import Assumption, RowKey
from polyfleet.results.deal import DealValuation
from polyfleet.results.frontier import FrontierRecord

__all__ = ["MAX_ACCELERATORS", "Assignment", "Gaps", "Level", "PlanRecord", "load_plan"]

MAX_ACCELERATORS = 1e9  # per assignment: far above any fleet, far below float overflow
Objective = Literal["min_cost", "max_served", "max_min_served"]
Fairness = Literal["max_min", "lexicographic"]
Origin = Literal["measured", "estimated", "calibrated"]
#: accelerators of one (workload, pool): finite, > 0, a number (not a string, not a boolean)
Accelerators = Annotated[float, Field(gt=0, le=MAX_ACCELERATORS, strict=True)]


class Gaps(Part):
    """The relative primal–dual gap each objective of the solve was proved to (at most 1e-6; 0
    for the whole LP)."""

    served: float | None = omitted(
        "max_served / max_min_served: the served objective's (lexicographic: its worst level's)."
    )
    cost: float = Field(
        description="min_cost's; for the served objectives, the least cost with what was served "
        "held."
    )


class Level(Part):
    """One level of `fairness: lexicographic` water-filling: the served fraction the workloads
    fixed at it share, how many they are, and the gap the level was proved to."""

    level: float
    workloads: int
    gap: float


class SolverInfo(Part):
    method: str
    iterations: int
    classes: int  # workload classes solved (identical workloads merged)
    workloads: int


class Assignment(Part):
    """Accelerators of one pool given to one workload, where the throughput came from, and the
    interval of an estimated or calibrated one (a measured one's is its value)."""

    workload: str = Field(min_length=1)
    pool: str = Field(min_length=1)
    accelerator: str
    vendor: str
    accelerators: Accelerators
    served: float  # units/s
    origin: Origin
    source: str | None  # "scenario", "roofline", a probe profile, or the published results
    calibration: Literal["profile", "benchmarks"] | None = omitted(
        "What calibrated the estimate: a probe profile or published results."
    )
    factor: float | None = omitted("The calibration's factor on the roofline estimate.")
    basis: str | None = omitted("How the stack factor was fitted (own, pooled).")
    results: list[str] | None = omitted("The published results behind the stack factor.")
    note: str | None = omitted()
    throughput_low: float | None = omitted("Low end of the interval, units/s per accelerator.")
    throughput_high: float | None = omitted("High end of the interval, units/s per accelerator.")


class WorkloadResult(Part):
    name: str = Field(min_length=1)
    unit: str
    demand: float
    served: float
    served_fraction: float
    accelerators: float
    cost_per_hour: float
    cost_per_unit: float | None
    cost_per_million_units: float | None
    level: float | None = omitted(
        "`fairness: lexicographic`: the served fraction water-filling fixed this workload at."
    )


class PoolResult(Part):
    pool: str
    site: str | None = omitted("The site the pool is at.")
    accelerator: str
    vendor: str
    capacity: float
    used: float
    idle_held: float
    utilisation: float
    cost_per_gpu_hour: float  # net of any deal credit
    gross_cost_per_gpu_hour: float
    deal: str | None
    deal_credit_per_gpu_hour: float
    cost_breakdown: dict[str, float] | None  # USD per GPU-hour by component
    mw_per_gpu: float


class MissingFigure(Part):
    """A figure the catalog lacks for some pools' accelerator, and what the plan did without it."""

    accelerator: str
    figure: str  # "power"
    pools: list[str]
    effect: str


class VendorShare(Part):
    count: float
    power: float
    spend: float


class PowerCap(Part):
    limit: str  # display name of the key
    key: RowKey
    cap_mw: float
    mw: float
    shadow_price_per_mw_hour: float


class Power(Part):
    mw: float
    gw: float
    cap_mw: float | None  # the fleet's cap
    cap_shadow_price_per_mw_hour: float
    caps: list[PowerCap]  # the fleet's first, then each site's


class BindingLimit(Part):
    """A coupling row at its limit, and what one more unit of it would save per hour."""

    constraint: str  # display name of the key
    key: RowKey
    kind: str  # the key's family: capacity, power, share
    limit: float | None  # None for share rows (their right-hand side is 0)
    slack: float
    unit: str
    saving_per_hour: float


class Ineligible(Part):
    workload: str
    accelerator: str
    reason: str


class Unservable(Part):
    workload: str
    reason: str
    pools: dict[str, str] | None = omitted("Why each pool's accelerator cannot serve it.")


class ViolatedLimit(Part):
    limit: str
    key: RowKey
    kind: str
    by: float
    unit: str
    message: str


class PlanShortfall(Part):
    workload: str
    unit: str
    served_fraction: float
    short_by: float


class Diagnosis(Part):
    """Why no plan exists: workloads no pool can serve, limits that must give, shortfalls."""

    unservable: list[Unservable] | None = omitted()
    limits: list[ViolatedLimit] | None = omitted()
    shortfalls: list[PlanShortfall] | None = omitted()


class CalibrationUsed(Part):
    """One factor a probe profile gave: measured / roofline estimate for a kind on a chip."""

    accelerator: str
    kind: str
    factor: float
    measured_units_per_s: float
    estimated_units_per_s: float
    profile: str
    probe_case: str
    probe_mode: str | None
    preset: str
    device: str
    created: str


class Calibration(Part):
    used: list[CalibrationUsed]
    notes: list[str]


class MatrixCell(Part):
    """One (workload, accelerator) cell of the throughput matrix."""

    workload: str
    accelerator: str
    throughput: float
    origin: Literal["measured", "estimated", "calibrated", "ineligible"]
    reason: str | None = omitted("Why an ineligible cell is.")
    profile: str | None = omitted("The profile that calibrated the cell.")
    calibration: Literal["profile", "benchmarks"] | None = omitted(
        "What calibrated the estimate: a probe profile or published results."
    )
    factor: float | None = omitted("The calibration's factor on the roofline estimate.")
    basis: str | None = omitted("How the stack factor was fitted (own, pooled).")
    results: list[str] | None = omitted("The published results behind the stack factor.")
    note: str | None = omitted()
    throughput_low: float | None = omitted("Low end of the interval, units/s per accelerator.")
    throughput_high: float | None = omitted("High end of the interval, units/s per accelerator.")
    gang: int | None = omitted("Accelerators one replica needs.")
    precision: str | None = omitted("The precision the estimate assumed.")


class AssignmentChange(Part):
    """Accelerators of one (workload, pool) at the point estimate and at the low end."""

    workload: str
    pool: str
    accelerators_point: float
    accelerators_low: float
    change: float
    status: Literal["added", "removed", "changed"]


class Pessimistic(Part):
    """A plan at the low end of the throughput intervals against the point plan."""

    point_status: str
    point_cost_per_hour: float | None
    low_cost_per_hour: float | None
    changed_assignments: list[AssignmentChange]


class Timings(Part):
    """Seconds each step took."""

    load: float
    matrix: float
    deals: float
    build: float
    solve: float
    diagnose: float | None = omitted()


#: what an optimal plan always has
_PLACEMENT = (
    "assignments",
    "workloads",
    "pools",
    "vendor_shares",
    "power",
    "binding",
    "ineligible",
)


class PlanRecord(Record):
    NAME = "plan"
    format: Literal["polyfleet.plan"] = "polyfleet.plan"
    schema_version: Literal[1] = 1
    scenario: str
    status: str  # "optimal" or "infeasible" (or what the solver reported)
    objective: Objective
    fairness: Fairness | None = omitted("max_min_served: max_min or lexicographic.")
    objective_value: float | None
    cost_per_hour: float | None
    cost_per_year: float | None
    power_mw: float | None
    optimality_gap: float | None
    lower_bound_per_hour: float | None
    objective_bound: float | None = omitted(
        "Proved upper bound on a served objective (max_served, max_min_served)."
    )
    gaps: Gaps | None = omitted("The gap of each objective the solve optimised (optimal plans).")
    levels: list[Level] | None = omitted("Water-filling's levels, lowest first (lexicographic).")
    solver: SolverInfo
    assignments: list[Assignment] | None = omitted("Non-zero assignments (optimal plans).")
    workloads: list[WorkloadResult] | None = omitted()
    pools: list[PoolResult] | None = omitted()
    vendor_shares: dict[str, VendorShare] | None = omitted()
    power: Power | None = omitted()
    binding: list[BindingLimit] | None = omitted()
    ineligible: list[Ineligible] | None = omitted("The first 1000 ineligible cells.")
    assumptions: list[Assumption]
    missing_figures: list[MissingFigure] | None = omitted(
        "Figures the catalog lacks (a TPU's power), and what the plan did without them."
    )
    diagnosis: Diagnosis | None = omitted("Why no plan exists (infeasible plans).")
    deals: list[DealValuation] | None = omitted("The deals the pools buy under.")
    calibration: Calibration | None = omitted("What probe profiles calibrated.")
    stack_factors: StackFactorsUsed | None = omitted("Stack factors from published results.")
    throughput_bound: Literal["point", "low"]  # low: every cell at its interval's low end
    matrix: list[MatrixCell] | None = omitted("Every matrix cell (`--matrix`).")
    frontier: FrontierRecord | None = omitted("The cost-vs-share frontier (`--frontier`).")
    timings: Timings
    pessimistic: Pessimistic | None = omitted("What the low end changes (`--pessimistic`).")

    @model_validator(mode="after")
    def _consistent(self) -> PlanRecord:
        """An optimal plan has its placement, and assigns only the workloads it lists."""
        if self.status != "optimal":
            return self
        for name in _PLACEMENT:
            if getattr(self, name) is None:
                raise FieldError("an optimal plan has this field: it is required", name)
        assert self.workloads is not None
        assert self.assignments is not None
        names = {w.name for w in self.workloads}
        for i, a in enumerate(self.assignments):
            if a.workload not in names:
                raise FieldError(
                    "the plan assigns a workload it does not list under `workloads`",
                    "assignments",
                    i,
                    "workload",
                )
        return self

    def workload_names(self) -> set[str]:
        return {w.name for w in self.workloads or ()}

    def split(self) -> dict[str, dict[str, float]]:
        """workload -> pool -> accelerators."""
        out: dict[str, dict[str, float]] = {}
        for a in self.assignments or ():
            by_pool = out.setdefault(a.workload, {})
            by_pool[a.pool] = by_pool.get(a.pool, 0.0) + a.accelerators
        return out

    @classmethod
    def coerce(cls, plan: PlanRecord | dict[str, Any], file: str | None = None) -> PlanRecord:
        """A plan given as the record or as its JSON data (validated)."""
        return plan if isinstance(plan, PlanRecord) else cls.parse(plan, file=file or "<plan>")


def load_plan(path: str | Path) -> PlanRecord:
    """Read and validate a plan `polyfleet plan --out` wrote."""
    return PlanRecord.load(path)
