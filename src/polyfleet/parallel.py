"""Mapping independent solves over one shared problem: in this process, or as Ray tasks.

Leverage's per-vendor searches and the frontier's points are pure functions of (shared,
item): the shared part (the problem and its warm starts) is sent to the cluster once
(`ray.put`), each item becomes one task, and the results come back in the items' order, so a
cluster run returns what the serial run returns. Ray is the `run` extra, imported only here and
only when a cluster is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from polyfleet.errors import InputError, PolyfleetError

__all__ = ["Mapper", "cluster_map", "serial_map"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

NEEDS_RAY = "--address / --workers (solves on a Ray cluster)"
MAX_WORKERS = 1024


Done = Callable[[int], None]


class Mapper(Protocol):
    """`[fn(shared, item) for item in items]`, wherever it runs; `on_done(n)` is told each time
    one more item is done (n so far), in whatever order they finish."""

    def __call__(
        self, fn: Callable[[S, T], R], shared: S, items: Sequence[T], on_done: Done | None = None
    ) -> list[R]: ...


def serial_map(
    fn: Callable[[S, T], R], shared: S, items: Sequence[T], on_done: Done | None = None
) -> list[R]:
    """Every item in this process, in order."""
    out = []
    for item in items:
        out.append(fn(shared, item))
        if on_done is not None:
            on_done(len(out))
    return out


def _ray_map(ray: Any) -> Mapper:
    """A mapper that runs each item as a one-CPU task on the connected cluster. A task's error
    is raised as itself (an InfeasibleError stays one), not wrapped in Ray's."""

    def mapper(
        fn: Callable[[S, T], R], shared: S, items: Sequence[T], on_done: Done | None = None
    ) -> list[R]:
        if len(items) <= 1:  # nothing to spread: spare the transfer
            return serial_map(fn, shared, items, on_done)
        task = ray.remote(num_cpus=1, max_retries=0)(fn)
        ref = ray.put(shared)
        refs = [task.remote(ref, item) for item in items]
        try:
            pending = refs
            while pending:
                _, pending = ray.wait(pending, num_returns=1)
                if on_done is not None:
                    on_done(len(refs) - len(pending))
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            raise (cause if isinstance(cause, Exception) else exc) from None

    return mapper


@contextmanager
def cluster_map(address: str | None = None, workers: int | None = None) -> Iterator[Mapper]:
    """The mapper for the options given: neither → serial, in this process; `workers` → a local
    Ray cluster of that many CPUs, stopped on exit; `address` → that running cluster (left
    running). Where this process is already connected to a cluster, that one is used."""
    if address is not None and workers is not None:
        raise InputError(
            "give --address (a running cluster) or --workers (a local one), not both",
            field="--workers",
            value=workers,
        )
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise InputError(
            f"a number of workers is 1 to {MAX_WORKERS}", field="--workers", value=workers
        )
    if address is None and workers is None:
        yield serial_map
        return
    from polyfleet.extras import require

    if address is not None and address.strip().lower() == "local":
        raise InputError(
            "'local' would start a new cluster: give --workers N for a local one",
            field="--address",
            value=address,
        )
    ray = require("ray", extra="run", what=NEEDS_RAY)
    joined = False
    if not ray.is_initialized():
        if address is not None:
            from polyfleet.dispatch.cluster import check_reachable

            check_reachable(address)
            try:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError or Exception
                why = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
                raise PolyfleetError(
                    f"cannot join the Ray cluster at {address}: {why}; is it up? Start one "
                    "with `polyfleet cluster up SCENARIO --local`, or give --workers N"
                ) from None
        else:
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
            )
        joined = True
    try:
        yield _ray_map(ray)
    finally:
        if joined:
            ray.shutdown()
