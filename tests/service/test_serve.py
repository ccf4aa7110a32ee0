"""`polyfleet serve`: where it may bind, the first admin token, token commands, a real socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from typer.testing import CliRunner

from polyfleet.cli import app as cli
from polyfleet.errors import InputError
from polyfleet.service import cli as serve_cli
from polyfleet.service.app import create_app
from polyfleet.service.cli import check_bind, is_loopback
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store, database_url

runner = CliRunner()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
        ("127.0.0.1.example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool):
    assert is_loopback(host) is loopback


def test_binding_rules(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    check_bind("127.0.0.1", None, None, insecure=False)
    check_bind("0.0.0.0", cert, key, insecure=False)
    check_bind("0.0.0.0", None, None, insecure=True)
    with pytest.raises(InputError, match="not loopback") as refused:
        check_bind("0.0.0.0", None, None, insecure=False)
    assert refused.value.field == "--host" and "--insecure" in str(refused.value)
    with pytest.raises(InputError, match="go together"):
        check_bind("0.0.0.0", cert, None, insecure=False)
    with pytest.raises(InputError, match="file not found"):
        check_bind("127.0.0.1", cert, tmp_path / "missing.pem", insecure=False)


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `serve` hands to uvicorn, instead of starting it."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        serve_cli, "_run_server", lambda app, **kw: calls.append({"app": app, **kw})
    )
    return calls


def test_serve_refuses_a_public_address_without_tls(tmp_path: Path, launched: list[dict[str, Any]]):
    state = tmp_path / "state"
    result = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--state-dir", str(state)])
    assert result.exit_code == 1 and launched == []
    assert "refusing to serve plain HTTP" in result.stderr
    assert not state.exists()  # refused before anything was written
    ok = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--insecure", "--state-dir", str(state)])
    assert ok.exit_code == 0, ok.output
    assert launched[0]["host"] == "0.0.0.0" and launched[0]["ssl_certfile"] is None


def test_first_start_prints_an_admin_token_once(tmp_path: Path, launched: list[dict[str, Any]]):
    state = tmp_path / "state"
    first = runner.invoke(cli, ["serve", "--state-dir", str(state), "--port", "8123"])
    assert first.exit_code == 0, first.output
    secret = first.stdout.splitlines()[1]
    assert launched[0]["host"] == "127.0.0.1" and launched[0]["port"] == 8123
    store = Store.open(database_url(None, state))
    token = store.tokens.authenticate(secret)
    assert token is not None and token.role == "admin"
    again = runner.invoke(cli, ["serve", "--state-dir", str(state)])
    assert again.exit_code == 0 and secret not in again.stdout and "pf_" not in again.stdout
    assert store.tokens.count() == 1
    store.close()


def test_token_commands(tmp_path: Path):
    state = ["--state-dir", str(tmp_path / "state")]
    made = runner.invoke(
        cli, ["serve", "token", "create", "--role", "planner", "--name", "ci", *state]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("pf_") and "created planner token" in made.stderr
    store = Store.open(database_url(None, tmp_path / "state"))
    token = store.tokens.authenticate(secret)
    assert token is not None and token.name == "ci"
    listed = runner.invoke(cli, ["serve", "token", "list", "--json", *state])
    rows = __import__("json").loads(listed.stdout)
    assert [(r["id"], r["role"], r["revoked_at"]) for r in rows] == [(token.id, "planner", None)]
    assert secret not in listed.stdout
    table = runner.invoke(cli, ["serve", "token", "list", *state])
    assert token.id in table.stdout and "planner" in table.stdout
    revoked = runner.invoke(cli, ["serve", "token", "revoke", token.id, *state])
    assert revoked.exit_code == 0 and store.tokens.authenticate(secret) is None
    missing = runner.invoke(cli, ["serve", "token", "revoke", "nope", *state])
    assert missing.exit_code == 1 and "no such token" in missing.stderr
    bad = runner.invoke(cli, ["serve", "token", "create", "--role", "root", *state])
    assert bad.exit_code == 1 and "role must be one of" in bad.stderr
    store.close()


def test_a_bad_database_is_one_clear_error(tmp_path: Path):
    result = runner.invoke(cli, ["serve", "token", "list", "--db", "mysql://u@h/db"])
    assert result.exit_code == 1 and "unsupported database" in result.stderr
    unreachable = runner.invoke(
        cli, ["serve", "token", "list", "--db", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert unreachable.exit_code == 1
    assert "cannot open the store at postgresql+psycopg://nobody@127.0.0.1:1/none" in " ".join(
        unreachable.stderr.split()
    )


def test_a_real_server_on_a_loopback_socket(sqlite_store: Store, tmp_path: Path):
    """uvicorn on a socket bound before it starts: the requests wait in the listen queue until
    it serves them, so no sleep or polling is needed."""
    _, secret = sqlite_store.tokens.create("viewer")
    app = create_app(sqlite_store, Settings(state_dir=tmp_path))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/health").json()["status"] == "ok"
            assert client.get("/api/v1/me").status_code == 401
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
            assert me.json()["role"] == "viewer"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive()


def test_importing_polyfleet_loads_none_of_the_serve_extra():
    heavy = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "multipart")
    code = (
        f"import sys, polyfleet, polyfleet.cli\nprint([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
