"""Rich views of the dispatch records: a run's outcome, the ledger's jobs by state and pool, the
cluster's pools."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.results.run import ClusterRecord, RunRecord, StatusRecord

__all__ = ["print_cluster", "print_run", "print_status", "status_tables"]

STATES = ("queued", "running", "succeeded", "failed", "rerouted")


def print_run(record: RunRecord, console: Console, *, profiles_out: Path) -> None:
    c = record.counts
    console.print(
        f"{c.get('succeeded', 0)} succeeded, {c.get('failed', 0)} failed, {record.rerouted} "
        f"re-routed, in {record.seconds:.1f} s; ledger {record.ledger}"
        + (f"; {len(record.profiles)} profile(s) in {profiles_out}" if record.profiles else "")
    )


def status_tables(data: StatusRecord) -> list[Table]:
    """Jobs by state and pool, and the cluster's pools with their free slots."""
    out = []
    t = Table(title=f"Jobs ({data.ledger})")
    for col in ("pool", *STATES):
        t.add_column(col, justify="left" if col == "pool" else "right")
    for pool, counts in sorted((data.by_pool or {}).items()):
        t.add_row(pool, *[str(counts.get(s, 0)) for s in STATES])
    if data.jobs:
        t.add_row("all", *[str(data.jobs.get(s, 0)) for s in STATES], style="bold")
    out.append(t)
    if data.pools:
        t = Table(title="Cluster pools")
        for col in ("pool", "accelerator", "vendor", "slots", "free", "utilisation", "live nodes"):
            t.add_column(
                col, justify="left" if col in ("pool", "accelerator", "vendor") else "right"
            )
        for name, p in sorted(data.pools.items()):
            used = 1 - p.free / p.slots if p.slots else 0.0
            t.add_row(
                name,
                str(p.accelerator),
                str(p.vendor),
                f"{p.slots:g}",
                f"{p.free:g}",
                f"{used:.0%}",
                str(p.alive_nodes),
            )
        out.append(t)
    if data.failed:
        t = Table(title="Failed jobs")
        for col in ("job", "error", "path"):
            t.add_column(col)
        for f in data.failed:
            t.add_row(f.id, escape(str(f.error)), " -> ".join(f.path))
        out.append(t)
    return out


def print_status(data: StatusRecord, console: Console) -> None:
    if data.by_pool is None:
        console.print(f"no jobs yet: `polyfleet run` records them in {data.ledger}")
    for table in status_tables(data):
        console.print(table)
    if data.cluster_error:
        console.print(f"[yellow]cluster:[/yellow] {escape(data.cluster_error)}")
    if data.unknown_states:
        states = ", ".join(f"{n} in state {s!r}" for s, n in data.unknown_states.items())
        console.print(
            f"[red]jobs in states polyfleet does not know:[/red] {escape(states)}; they are never "
            f"run: {escape(data.ledger)} was changed by another program"
        )


def print_cluster(data: ClusterRecord, console: Console) -> None:
    """A local cluster's nodes, or a joined cluster's pools with their free slots."""
    if data.nodes is not None:
        console.print(f"local Ray cluster up at {data.address} (pid {data.pid}):")
        for node in data.nodes:
            console.print(
                f"  pool {node.pool}: {node.accelerator} ({node.vendor}), {node.slots} slots"
            )
    for name, p in sorted((data.pools or {}).items()):
        console.print(
            f"pool {name}: {p.accelerator} ({p.vendor}), {p.free:g} of {p.slots:g} "
            f"slots free, {p.alive_nodes} live node(s)"
        )
