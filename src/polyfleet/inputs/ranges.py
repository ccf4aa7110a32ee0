"""The range of every kind of number polyfleet reads, and the bounds on the size of a run.

Data, not code: `base.ranged` makes the schemas' field types from `RANGES`, and the README's
tables are generated from both, so the checks, their messages and the documentation agree.
Nothing here imports the rest of polyfleet.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import PydanticCustomError

__all__ = ["LIMITS", "RANGES", "Limit", "Range"]


@dataclass(frozen=True)
class Range:
    """The accepted values of one kind of quantity, its unit, and why those bounds."""

    key: str
    label: str  # what the quantity is, as an error message names it
    unit: str
    low: float
    high: float
    why: str
    low_open: bool = False  # `low` itself is refused
    integer: bool = False

    def rule(self) -> str:
        low = f"> {_num(self.low)}" if self.low_open else f"≥ {_num(self.low)}"
        return f"{low} and ≤ {_num(self.high)}"

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def check(self, value: float) -> float:
        if not self.contains(value):
            raise PydanticCustomError(
                "out_of_range",
                "{label} must be {rule}{unit}",
                {
                    "label": self.label,
                    "rule": self.rule(),
                    "unit": f" {self.unit}" * bool(self.unit),
                },
            )
        return value


@dataclass(frozen=True)
class Limit:
    """A bound on the work or size of a run, rather than on one field's value."""

    key: str
    value: float
    unit: str
    why: str


def _num(x: float) -> str:
    """2100 -> "2100"; 50000 -> "50,000"; 1e6 -> "1e6"; 2.5e12 -> "2.5e12"; 1e-6 -> "1e-6"."""
    if x == int(x) and abs(x) < 1e6:
        return f"{int(x):,}" if abs(x) >= 10000 else str(int(x))
    text = f"{x:.6g}"
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    return f"{mantissa}e{int(exp)}"


_R = Range
#: Every kind of number polyfleet reads, with its range and the reason for it.
# fmt: off
RANGES: dict[str, Range] = {
    r.key: r
    for r in (
        # money
        _R("price_per_gpu_hour", "a price per GPU-hour", "USD", 0.001, 1000,
           "rental runs $0.5-$10; below a tenth of a cent a cost is noise to the solver"),
        _R("price_per_gpu", "a price per accelerator", "USD", 1, 1e7,
           "a GPU costs $10k-$60k; $10M covers a wafer-scale system"),
        _R("usd_per_gpu", "a cost per accelerator", "USD", 0, 1e7,
           "server and network shares, a fraction of the accelerator's price"),
        _R("usd_per_mw", "a facility cost per MW", "USD", 0, 1e9,
           "a data-centre build costs about $10M per MW of IT load"),
        _R("price_per_gw", "a price per gigawatt", "USD", 1e6, 1e12,
           "deals price accelerators at tens of billions per GW"),
        _R("power_price", "a power price", "USD per MWh", 0, 10000,
           "grid power costs $20-$200 per MWh; scarcity peaks reach a few thousand"),
        _R("budget", "a yearly budget", "USD", 1, 1e13,
           "$10 trillion a year is more than all data-centre spending"),
        _R("nre", "a non-recurring engineering cost", "USD", 0, 1e12,
           "a custom accelerator costs $0.1B-$2B to design and tape out; 0: already spent"),
        # physics of an accelerator
        _R("tdp_w", "a TDP", "W per accelerator", 1, 50000,
           "chips draw 300-1,500 W; a wafer-scale system about 25 kW"),
        _R("node_power_kw", "a node's power", "kW", 0.1, 5000, "an NVL72 rack draws ~120 kW"),
        _R("memory_gb", "a memory size", "GB per accelerator", 0.001, 1e6,
           "80-300 GB of HBM today"),
        _R("memory_used_gb", "a measured memory use", "GB", 0, 1e6, "at most what a device has"),
        _R("bandwidth_tbps", "a memory bandwidth", "TB/s", 0.001, 1e5, "2-8 TB/s of HBM today"),
        _R("tflops", "a dense peak", "TFLOP/s", 0.001, 1e6,
           "0.3-10 PFLOP/s per chip today; a wafer-scale system ~125 PFLOP/s"),
        _R("scaleup_gbps", "a scale-up bandwidth", "GB/s per accelerator", 0, 1e5,
           "NVLink and Infinity Fabric give 0.5-2 TB/s"),
        _R("scaleup_tbps", "a scale-up domain's bandwidth", "TB/s", 0.001, 1e6,
           "an NVL72 rack's NVLink carries 130 TB/s, a Vera Rubin or Helios rack 260"),
        _R("accelerators_per_node", "accelerators per node or scale-up domain", "", 1, 100000,
           "8 per server, 72 per NVL72 rack, 9,216 per TPU pod", integer=True),
        _R("rack_kw", "a rack's power", "kW", 1, 5000,
           "air-cooled racks take 10-40 kW, liquid-cooled NVL72 racks 120-230 kW, the racks "
           "announced for 2027 up to 600 kW"),
        _R("year", "a year", "", 1990, 2100, "accelerators and plans of this era", integer=True),
        # a fleet and its sites
        _R("count", "an accelerator count", "accelerators", 0, 1e8,
           "the largest fleets have a few million", integer=True),
        _R("accelerator_cap", "a cap on accelerators", "accelerators", 1, 1e8,
           "the largest fleets have a few million"),
        _R("nodes_per_year", "nodes bought per year", "nodes", 0, 1e7,
           "the largest fleets have a few million accelerators", integer=True),
        _R("pue", "a PUE", "", 1, 3, "facility power over IT power: 1.1-1.6 for data centres"),
        _R("fraction", "a fraction", "", 0, 1, "a share, rate or fraction of a whole"),
        _R("positive_fraction", "a fraction", "", 0, 1, "a fraction of a whole, not none of it",
           low_open=True),
        _R("power_cap_mw", "a power cap", "MW", 0.001, 1e6, "1 kW to 1 TW"),
        _R("power_cap_gw", "a power cap", "GW", 1e-6, 1000, "1 kW to 1 TW"),
        _R("gw", "gigawatts of a deal", "GW", 0, 1000, "deals commit 1-10 GW"),
        _R("gw_committed", "gigawatts committed", "GW", 0, 1000, "deals commit 1-10 GW",
           low_open=True),
        # workloads
        _R("demand", "a demand", "units/s", 0, 1e12,
           "a global service needs up to ~1e10 tokens or samples per second"),
        _R("throughput", "a throughput", "units/s per accelerator", 0.001, 1e9,
           "from a fraction of a token to millions of samples per second"),
        _R("params_b", "a parameter count", "billions", 0, 1e5,
           "the largest models have a few trillion parameters"),
        _R("active_params_b", "an active parameter count", "billions", 1e-6, 1e5,
           "the largest models have a few trillion parameters"),
        _R("seq_len", "a sequence length", "tokens", 1, 1e8, "contexts reach 1-10M tokens",
           integer=True),
        _R("batch", "a batch size", "", 1, 1e6, "1 to tens of thousands", integer=True),
        _R("layers", "a layer count", "", 1, 10000, "models have 10-200 layers", integer=True),
        _R("kv_dim", "a key/value width", "", 1, 1e6, "KV heads x head dim: 128-16,384",
           integer=True),
        _R("embedding_gb", "an embedding table size", "GB", 0, 1e7,
           "recommenders hold up to tens of TB"),
        _R("lookups", "embedding lookups per sample", "", 0, 1e7, "hundreds to thousands",
           integer=True),
        _R("embedding_dim", "an embedding width", "", 1, 1e6, "64-1,024", integer=True),
        _R("gflops_per_sample", "work per sample", "GFLOP", 1e-9, 1e9,
           "a ranking MLP needs ~1 GFLOP, a large vision model ~1,000"),
        _R("latency_ms", "a latency", "ms", 0, 1e7, "a few ms to a few hours", low_open=True),
        _R("gang", "a gang size", "accelerators", 1, 1e8,
           "the largest training jobs span ~100,000 accelerators", integer=True),
        _R("relative_performance", "a performance relative to a catalogued part", "", 0.01, 100,
           "a new chip runs a kind of work 0.3-3x as fast as the part it is measured against"),
        # money over time
        _R("years", "a span of years", "years", 0.1, 50, "hardware lives 3-6 years, buildings ~15"),
        _R("life_years", "a service life", "years", 1, 50, "hardware lives 3-6 years",
           integer=True),
        _R("growth", "a demand growth factor", "per year", 0.01, 10,
           "demand grows 1-3x a year; 10x is already extreme"),
        _R("mip_gap", "a MIP gap", "", 1e-9, 0.5, "a relative optimality gap"),
        _R("time_limit_s", "a time limit", "s", 0.1, 86400, "up to a day"),
        # stock and warrants
        _R("shares", "a number of shares", "shares", 0, 1e12,
           "warrants grant up to hundreds of millions", low_open=True),
        _R("share_price", "a share price", "USD", 0, 1e7, "a stock trades at $1-$1,000",
           low_open=True),
        _R("strike", "a strike", "USD", 0, 1e7, "a warrant's strike is $0.01 or more"),
        _R("volatility", "a volatility", "per year", 0.001, 5, "stocks run 20-100 % a year"),
        _R("rate", "an interest rate", "per year", -0.1, 1, "risk-free rates run -1 % to 10 %"),
        _R("mc_paths", "a number of Monte Carlo paths", "paths", 2, 1e15,
           "the work limit below is what binds", integer=True),
        _R("steps_per_year", "monitoring dates per year", "", 1, 10000,
           "52 (weekly) to 365 (daily) is usual", integer=True),
        _R("seed", "a random seed", "", 0, 1e18, "any whole number", integer=True),
        # measurements (probe profiles)
        _R("measured_rate", "a measured rate", "units/s", 1e-6, 1e18,
           "flop/s, bytes/s, tokens/s or samples/s one device reached"),
        _R("work_per_unit", "work per unit", "flop or bytes", 0, 1e18, "per token or sample"),
        _R("measured_tflops", "an achieved rate", "TFLOP/s", 0, 1e6, "at most a chip's peak"),
        _R("measured_gbps", "an achieved bandwidth", "GB/s", 0, 1e8, "at most a chip's peak"),
        _R("peak_ratio", "a fraction of peak", "", 0, 10,
           "about 1 at most; above it the catalog peak is wrong"),
        _R("joules_per_unit", "energy per unit", "J", 0, 1e6, "per flop, byte, token or sample",
           low_open=True),
        _R("repeats", "a repeat count", "", 1, 1e9, "timed repeats of a case", integer=True),
        _R("device_index", "a device index or count", "", 0, 10000, "devices on one host",
           integer=True),
        _R("shape_value", "a model-shape figure", "", 0, 1e12, "as in a scenario's `model:`"),
        _R("job_count", "a job count", "jobs", 1, 1e6, "copies of one job", integer=True),
        # published results (benchmark tables)
        _R("system_size", "accelerators in a benchmarked system", "accelerators", 1, 1e6,
           "MLPerf systems run 1 to a few thousand", integer=True),
        _R("train_minutes", "a time to train", "minutes", 0, 1e7,
           "MLPerf training results run minutes to hours", low_open=True),
        _R("token_count", "a token count", "tokens", 1, 1e16,
           "a fine-tune reads millions of tokens, a pre-training run trillions"),
        _R("flop_per_param", "FLOPs per parameter per token", "", 1, 100,
           "6 for training, 4 for LoRA (frozen weights), 2 for inference"),
        # command options
        _R("search_precision", "a relative search precision", "", 1e-6, 0.5,
           "the re-solves are optimal to 1e-5, so finer multipliers are noise"),
        _R("frontier_points", "a number of frontier points", "points", 20, 500,
           "each point is one solve", integer=True),
        _R("workers", "a number of workers", "CPUs", 1, 1024,
           "one task per CPU of the local cluster", integer=True),
        _R("retries", "a number of re-routes per job", "", 0, 100,
           "each re-route follows a lost node; more than 100 is a loop", integer=True),
        _R("run_timeout_s", "a run's time limit", "s", 0, 30 * 86400, "up to 30 days",
           low_open=True),
    )
}
# fmt: on


#: Bounds on the size of a run, checked before the work starts.
# fmt: off
LIMITS: dict[str, Limit] = {
    x.key: x
    for x in (
        Limit("monte_carlo_path_steps", 2e9, "path-steps per deal valuation",
              "paths × monitoring steps, sensitivity runs included: ~30 s on 2 cores"),
        Limit("monte_carlo_chunk_bytes", 64 * 2**20, "bytes per simulation chunk",
              "paths are simulated in chunks this size on at most 8 threads: < 1 GiB in all"),
        Limit("warrant_years", 50, "years from valuation to expiry",
              "a warrant beyond that is not a supply deal's"),
        Limit("warrant_tranches", 100, "tranches per warrant", "deals have a handful"),
        Limit("procurement_years", 50, "years per procurement horizon",
              "a build-out plan of half a century is a typo"),
        Limit("table_rows", 2e7, "rows per workload or throughput table",
              "100,000 workloads x 50 accelerators are 5M cells; 20M take ~0.5 GB as arrays"),
        Limit("table_csv_bytes", 1024 * 2**20, "bytes per CSV table",
              "CSV is read whole before its rows are counted; Parquet's count is in its footer"),
        Limit("scenario_builds", 4, "builds per scenario",
              "a scenario's plan weighs every subset of its builds (2^4 = 16 solves)"),
    )
}
# fmt: on
