"""The `polyfleet` command: an adapter over the application layer (polyfleet.app).

Each command parses its options into the options model, checks the files it will write, calls
one app function, and renders the record it returns: terminal tables, `--json` (the record as
`dump_record` writes it), `--out` and `--html`. The commands live by subject in this package;
`base` holds the app and its one error handler, which maps a PolyfleetError to its exit code.
"""

from __future__ import annotations

import importlib

from polyfleet.cli.base import app
from polyfleet.service.cli import serve_app

#: The command modules, in the order `polyfleet --help` lists their commands (they register on
#: import).
COMMANDS = ("planning", "economics", "dispatch", "probe")
for _module in COMMANDS:
    importlib.import_module(f"polyfleet.cli.{_module}")

__all__ = ["COMMANDS", "app", "main"]

app.add_typer(serve_app, name="serve")


def main() -> None:  # pragma: no cover - console entry
    app()
