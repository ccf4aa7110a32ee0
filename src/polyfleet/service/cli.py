"""`polyfleet serve` and `polyfleet serve token create|list|revoke`.

This module imports nothing of the `serve` extra at import time, so `polyfleet --help` works (and
starts fast) without it; each command imports what it needs and says which extra is missing.
Errors are raised, and ended by the command line's one handler (polyfleet/cli.py).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from polyfleet.errors import InputError, MissingExtraError, PolyfleetError

if TYPE_CHECKING:
    from polyfleet.service.store import Store

__all__ = ["check_bind", "is_loopback", "serve_app"]

serve_app = typer.Typer(
    help="Serve the REST API over a shared store of scenarios, runs and tokens.",
    invoke_without_command=True,
    add_completion=False,
)
token_app = typer.Typer(help="Create, list or revoke API tokens.", no_args_is_help=True)
serve_app.add_typer(token_app, name="token")
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, e.g. postgresql+psycopg://user@host/polyfleet; "
        "default: SQLite in the state folder.",
    ),
]
StateDirOpt = Annotated[
    Path,
    typer.Option(
        "--state-dir", help="Folder for the SQLite store and scratch copies.", file_okay=False
    ),
]
DEFAULT_STATE_DIR = Path(".polyfleet")


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine: `localhost` or a loopback address (127.0.0.0/8,
    ::1). Other names are not resolved: they might reach the network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls_cert: Path | None, tls_key: Path | None, insecure: bool) -> None:
    """Refuse to serve plain HTTP on an address other machines can reach, unless asked to."""
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together", field="--tls-cert")
    for opt, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise InputError("file not found", field=opt, value=str(path))
    if is_loopback(host) or tls_cert is not None or insecure:
        return
    raise InputError(
        "refusing to serve plain HTTP on an address that is not loopback: tokens would cross "
        "the network in clear",
        field="--host",
        value=host,
        hint="Give --tls-cert and --tls-key, or --insecure if a TLS proxy is in front",
    )


def _open_store(db: str | None, state_dir: Path) -> Store:
    try:
        from polyfleet.service.store import Store, database_url
    except ModuleNotFoundError as exc:
        raise MissingExtraError("polyfleet serve", extra="serve", missing=exc.name) from None
    from sqlalchemy.exc import SQLAlchemyError

    url = database_url(db, state_dir)
    try:
        return Store.open(url)
    except SQLAlchemyError as exc:
        shown = url.render_as_string(hide_password=True)
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
        raise PolyfleetError(f"cannot open the store at {shown}: {reason}") from None


def _run_server(app: Any, **options: Any) -> None:
    """Hand the app to uvicorn (tests replace this)."""
    import uvicorn

    uvicorn.run(app, **options)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain HTTP on a non-loopback address.")
    ] = False,
    max_upload_mb: Annotated[
        float, typer.Option(help="Largest document one upload may carry, in MiB.", min=0.001)
    ] = 4.0,
    workers: Annotated[
        int | None,
        typer.Option(help="Runs at once (default: one per core).", min=1, max=256),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Execute runs as tasks on this Ray cluster (HOST:PORT) instead of local "
            "processes; its nodes must reach the database (PostgreSQL)."
        ),
    ] = None,
) -> None:
    """Serve the API (http://127.0.0.1:8080 by default). The first start on an empty store
    creates an admin token and prints it once."""
    if ctx.invoked_subcommand is not None:
        return
    check_bind(host, tls_cert, tls_key, insecure)
    store = _open_store(db, state_dir)
    from polyfleet.service.app import create_app
    from polyfleet.service.settings import Settings

    if store.tokens.count() == 0:
        info, secret = store.tokens.create("admin", "admin")
        typer.echo(
            f"No tokens yet: created admin token {info.id}. Its secret is shown this once:\n"
            f"{secret}\n"
            "Create more with `polyfleet serve token create --role viewer|planner|admin`."
        )
    interrupted = store.runs.fail_interrupted()
    if interrupted:
        err_console.print(f"{interrupted} run(s) left running by the last server marked failed")
    settings = Settings(state_dir=state_dir, max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    executor = _executor(store, settings, workers, ray_address)
    scheme = "https" if tls_cert is not None else "http"
    shown_host = f"[{host}]" if ":" in host else host
    typer.echo(
        f"polyfleet serve: {scheme}://{shown_host}:{port}/ "
        f"(store: {store.engine.url.render_as_string(hide_password=True)})",
        err=True,
    )
    try:
        _run_server(
            create_app(store, settings, executor),
            host=host,
            port=port,
            ssl_certfile=None if tls_cert is None else str(tls_cert),
            ssl_keyfile=None if tls_key is None else str(tls_key),
            server_header=False,
            proxy_headers=False,
        )
    finally:
        store.close()


def _executor(store: Store, settings: Any, workers: int | None, ray_address: str | None) -> Any:
    """The worker pool: local processes, or Ray tasks at `ray_address`."""
    from polyfleet.service.executor import ProcessBackend, RayBackend, RunExecutor

    url = store.engine.url.render_as_string(hide_password=False)
    backend: Any
    if ray_address is not None:
        backend = RayBackend(ray_address, url, settings.scratch_dir, settings.state_dir)
    else:
        backend = ProcessBackend(url, settings.scratch_dir)
    return RunExecutor(store, backend, workers)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer | planner | admin")],
    name: Annotated[str | None, typer.Option(help="A name to tell tokens apart.")] = None,
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Create a token. Its secret is printed once, on stdout; only a hash of it is stored."""
    store = _open_store(db, state_dir)
    info, secret = store.tokens.create(role, name)
    err_console.print(f"created {info.role} token {info.id} ({info.name}); its secret:")
    typer.echo(secret)


@token_app.command("list")
def token_list(
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (never their secrets)."""
    tokens = _open_store(db, state_dir).tokens.list()
    if as_json:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_at": t.created_at.isoformat(),
                "last_used_at": t.last_used_at and t.last_used_at.isoformat(),
                "revoked_at": t.revoked_at and t.revoked_at.isoformat(),
            }
            for t in tokens
        ]
        typer.echo(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    table = Table("id", "name", "role", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            t.id,
            escape(t.name),
            t.role,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-",
        )
    Console(width=200).print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `token list`).")],
    db: DbOpt = None,
    state_dir: StateDirOpt = DEFAULT_STATE_DIR,
) -> None:
    """Revoke a token: every request carrying it is refused from now on."""
    info = _open_store(db, state_dir).tokens.revoke(token_id)
    if info is None:
        raise InputError("no such token", field="ID", value=token_id)
    typer.echo(f"revoked {info.role} token {info.id} ({info.name})")
