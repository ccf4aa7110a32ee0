"""The command line's shared parts: the Typer app with the one error handler, the common
options, and the output helpers every command renders through.

Errors end a command in one place (`_Commands.invoke`): a PolyfleetError prints one line on
stderr and exits with its class's code (1 bad input or a missing extra, 2 infeasible, 3 the
solver failed); commands raise, never print errors themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import UsageError  # typer's bundled click (typer is pinned)
from typer.core import TyperGroup

from polyfleet.errors import InfeasibleError, InputError, PolyfleetError

if TYPE_CHECKING:
    from polyfleet.app import Progress

__all__ = [
    "EXIT_INPUT",
    "AddressOpt",
    "Bars",
    "BenchmarksOpt",
    "JsonOpt",
    "StateDirOpt",
    "WorkersOpt",
    "app",
    "console",
    "emit",
    "err_console",
    "write_html",
]

EXIT_INPUT = InputError.exit_code


class _Commands(TyperGroup):
    """The one place a command's error ends it: a PolyfleetError is one line on stderr and its
    class's exit code. Usage errors (unknown option, missing argument, bad option type) exit 1
    like any other bad input, with typer's message: click's 2 is polyfleet's "infeasible"."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise
        except PolyfleetError as exc:
            label = "infeasible" if isinstance(exc, InfeasibleError) else "error"
            err_console.print(  # no emoji: a value like 'a:b:c' is printed as given
                f"[red]{label}:[/red] {escape(str(exc))}",
                highlight=False,
                soft_wrap=True,
                emoji=False,
            )
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="polyfleet",
    help="Plan, price and run a multi-vendor AI-accelerator fleet.",
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of tables.")]
BenchmarksOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--benchmarks",
        help="Table of published results that calibrates the stack factors (repeatable; "
        "`packaged`: the shipped MLPerf table, the default; `none`: the bare roofline).",
    ),
]


def console() -> Console:
    """Tables at full width when piped (rich would fold them to 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def emit(record: Any, *, as_json: bool, out: Path | None = None) -> None:
    """Write the record's JSON to `out`, and to stdout with `--json`: one dump, checked finite."""
    if not as_json and out is None:
        return
    from polyfleet.results.base import dump_record

    text = dump_record(record)
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if as_json:
        sys.stdout.write(text)


def write_html(path: Path | None, render: Any, *args: Any) -> None:
    if path is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(path, render(*args))


class Bars:
    """Progress events as rich bars on stderr (one per task), so `--json` stays clean; an event
    with a message is printed as a line."""

    def __init__(self, width: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn(f"{{task.description:<{width}}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        )
        self._tasks: dict[str, Any] = {}

    def __call__(self, event: Progress) -> None:
        if event.message:
            self.progress.console.print(escape(event.message))
            return
        task = self._tasks.get(event.task)
        if task is None:
            task = self._tasks[event.task] = self.progress.add_task(event.task, total=None)
        self.progress.update(task, completed=event.done, total=event.total)


StateDirOpt = Annotated[
    Path, typer.Option(help="Where the local cluster's address and the ledger live.")
]
AddressOpt = Annotated[
    str | None,
    typer.Option(help="Run the independent solves as tasks on this running Ray cluster."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(help="Run the independent solves on a local Ray cluster of this many CPUs."),
]
