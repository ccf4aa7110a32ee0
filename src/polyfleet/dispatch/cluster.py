"""Pools as Ray node resources, and a local multi-node Ray cluster to run them on.

Every node of a pool advertises `pool:<name>`, `accelerator:<catalog id>` and `vendor:<vendor>`
resources (one unit per job slot) and the same as node labels; a task asks for `pool:<name>` and
can only land there. `polyfleet cluster up --local` runs a background process that holds a
`ray.cluster_utils.Cluster` (head plus one node per pool, slots scaled down to fit one machine) and
writes its address to `.polyfleet/cluster.json`; `cluster down` stops it. An existing cluster is
joined by address, and its pools are read from its nodes' resources.

The state file is trusted only as far as it can be checked: its pid must still be the cluster
server it names (its command line, not just a live pid, since pids are reused), and an address
must answer a TCP connection within CONNECT_TIMEOUT_S before Ray is asked to join it (Ray itself
waits minutes on a dead address).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyfleet.errors import InputError, PolyfleetError
from polyfleet.extras import require

__all__ = [
    "check_reachable",
    "cluster_pools",
    "connect",
    "local_spec",
    "start_local",
    "stop_local",
]

STATE_FILE = "cluster.json"
#: What a command that needs Ray does, as a missing `run` extra names it.
NEEDS_RAY = "dispatch to a Ray cluster"
START_TIMEOUT_S = 180.0
CONNECT_TIMEOUT_S = 10.0
_SERVER_ARGS = "-m polyfleet.dispatch.cluster serve "


def local_spec(
    loaded: Any, total_slots: int = 32, host_gpus: tuple[str, int] | None = None
) -> list[dict[str, Any]]:
    """One node per pool of a scenario, with job slots in proportion to the pool's size.

    `host_gpus` (device name, count) gives this machine's GPUs to the first pool of that kind
    of accelerator, so Ray sees them there and adds its own `accelerator_type` resource.
    """
    pools = loaded.scenario.pools
    total = sum(p.count for p in pools) or 1
    gpu_kind = loaded.catalog.match_device(host_gpus[0]) if host_gpus else None
    out = []
    for p in pools:
        node = {
            "pool": p.name,
            "accelerator": p.accelerator,
            "vendor": loaded.catalog[p.accelerator].vendor,
            "slots": max(1, round(total_slots * p.count / total)),
            "num_gpus": 0,
        }
        if gpu_kind is not None and p.accelerator == gpu_kind and host_gpus is not None:
            node["num_gpus"] = host_gpus[1]
            gpu_kind = None  # one pool gets the real devices
        out.append(node)
    return out


def node_resources(node: dict[str, Any]) -> dict[str, float]:
    n = float(node["slots"])
    return {
        f"pool:{node['pool']}": n,
        f"accelerator:{node['accelerator']}": n,
        f"vendor:{node['vendor']}": n,
    }


def node_labels(node: dict[str, Any]) -> dict[str, str]:
    return {
        "polyfleet.pool": node["pool"],
        "polyfleet.accelerator": node["accelerator"],
        "polyfleet.vendor": node["vendor"],
    }


def _state_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def _cmdline(pid: int) -> str | None:
    """The command line of process `pid` (arguments joined by spaces), or None if it is gone."""
    if Path("/proc/self/cmdline").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return " ".join(raw.decode(errors="replace").rstrip("\0").split("\0")) or None
    out = subprocess.run(  # no /proc (macOS): ask ps
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or None


def _is_server(pid: int, state: dict[str, Any]) -> bool:
    """Whether `pid` is still the cluster server the state file names (not a reused pid)."""
    cmd = _cmdline(pid)
    if cmd is None:
        return False
    recorded = state.get("cmdline")
    return cmd == recorded if isinstance(recorded, str) else _SERVER_ARGS in cmd


def _load_state(state_dir: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """The state of the running local cluster, or (None, why the state file was stale)."""
    path = _state_path(state_dir)
    if not path.exists():
        return None, None
    try:
        state = json.loads(path.read_text("utf-8"))
        pid = state["pid"]
        if not (isinstance(state["address"], str) and isinstance(pid, int) and pid > 0):
            raise TypeError("wrong types")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"not a cluster state file polyfleet wrote ({exc})",
            file=str(path),
            hint="If no local cluster is running, delete it",
        ) from None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        why = f"its process {pid} has ended"
    except PermissionError:
        why = f"process {pid} belongs to another user"
    else:
        if _is_server(pid, state):
            return state, None
        why = f"process {pid} is now another program, not the cluster server"
    path.unlink(missing_ok=True)
    return None, f"removed the stale {path}: {why}"


def read_state(state_dir: str | Path) -> dict[str, Any] | None:
    return _load_state(state_dir)[0]


def start_local(spec: Sequence[dict[str, Any]], state_dir: str | Path) -> dict[str, Any]:
    """Start the background process holding a local cluster; return its state once it is up."""
    require("ray", extra="run", what=NEEDS_RAY)
    state_dir = Path(state_dir)
    if (existing := read_state(state_dir)) is not None:
        raise PolyfleetError(
            f"a local cluster is already running (pid {existing['pid']}, {existing['address']}); "
            "`polyfleet cluster down` first"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    spec_file = state_dir / "cluster-spec.json"
    spec_file.write_text(json.dumps(list(spec)))
    # a short-lived launcher starts the server in its own session and exits, so the server is
    # nobody's child here (it must outlive this command)
    subprocess.run(
        [sys.executable, "-m", "polyfleet.dispatch.cluster", "spawn", str(state_dir)], check=True
    )
    server_pid = int((state_dir / "cluster.pid").read_text())
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if state is not None:
            return state
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            raise PolyfleetError(
                f"the local cluster failed to start; see {state_dir / 'cluster.log'}"
            ) from None
        time.sleep(0.2)
    os.kill(server_pid, signal.SIGTERM)
    raise PolyfleetError(f"the local cluster did not start in {START_TIMEOUT_S:.0f} s")


def stop_local(state_dir: str | Path, timeout: float = 60.0) -> str:
    """Stop the local cluster; says what it did. Signals only a process that is still the
    cluster server the state file names."""
    state, stale = _load_state(state_dir)
    if state is None:
        return "no local cluster was running" + (f" ({stale})" if stale else "")
    if "ray" in sys.modules:
        disconnect()
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(state["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    _state_path(state_dir).unlink(missing_ok=True)
    return "local Ray cluster stopped"


def _serve(state_dir: Path) -> None:  # pragma: no cover - runs in the background process
    from ray.cluster_utils import Cluster

    spec = json.loads((state_dir / "cluster-spec.json").read_text())
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    for node in spec:
        cluster.add_node(
            num_cpus=1,
            num_gpus=node.get("num_gpus", 0),
            resources=node_resources(node),
            labels=node_labels(node),
        )
    cluster.wait_for_nodes()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = _state_path(state_dir).with_suffix(".tmp")
    record = {"address": cluster.address, "pid": os.getpid(), "cmdline": _cmdline(os.getpid())}
    tmp.write_text(json.dumps({**record, "pools": spec}))
    tmp.replace(_state_path(state_dir))
    while not stopping:
        time.sleep(0.5)
    cluster.shutdown()


def disconnect() -> None:
    """Leave the cluster (a driver left connected to a cluster that stops is aborted by Ray)."""
    if sys.modules.get("ray") is None:
        return  # never joined one (or Ray cannot be imported here)
    import ray

    if ray.is_initialized():
        ray.shutdown()


def connect(address: str | None, state_dir: str | Path) -> str:
    """ray.init to `address`, or to the local cluster `cluster up --local` started."""
    ray = require("ray", extra="run", what=NEEDS_RAY)
    if address is None:
        state, stale = _load_state(state_dir)
        if state is None:
            raise PolyfleetError(
                "no cluster: run `polyfleet cluster up SCENARIO --local`, or give --address"
                + (f" ({stale})" if stale else "")
            )
        address = state["address"]
    check_reachable(address)
    if not ray.is_initialized():
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    return address


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse an address nothing answers at within `timeout` (Ray would wait minutes)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("a Ray address is HOST:PORT", field="--address", value=address)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            speaks = _speaks_grpc(conn)
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise PolyfleetError(
            f"cannot reach the Ray cluster at {address} ({why} within {timeout:g} s); is it up? "
            "Start one with `polyfleet cluster up SCENARIO --local`, or check --address"
        ) from None
    if not speaks:  # Ray would retry the handshake for minutes
        raise PolyfleetError(
            f"what answers at {address} is not a Ray cluster (it does not speak gRPC); give "
            "the address `ray start --head` printed, or check --address"
        )


#: An HTTP/2 client's connection preface and an empty SETTINGS frame (RFC 9113, 3.4 and 6.5).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_grpc(conn: socket.socket) -> bool:
    """Whether the peer answers an HTTP/2 preface with a SETTINGS frame, as every gRPC server
    (Ray's GCS and its client server) does; `conn`'s timeout bounds the wait."""
    conn.sendall(_HTTP2_PREFACE)
    head = b""
    while len(head) < 9:
        chunk = conn.recv(9 - len(head))
        if not chunk:
            return False
        head += chunk
    return head[3] == 4  # the frame type: SETTINGS


def cluster_pools() -> dict[str, dict[str, Any]]:
    """Pools of the connected cluster: slots, free slots, live and dead nodes, accelerator and
    vendor. A pool whose nodes all died is still listed (from their labels), with alive False."""
    import ray

    pools: dict[str, dict[str, Any]] = {}
    for node in ray.nodes():
        res = node.get("Resources", {})
        labels = node.get("Labels", {}) or {}
        owned = {k.split(":", 1)[1]: v for k, v in res.items() if k.startswith("pool:")}
        if not owned and labels.get("polyfleet.pool"):  # a dead node keeps its labels only
            owned = {labels["polyfleet.pool"]: 0.0}
        for name, amount in owned.items():
            entry = pools.setdefault(
                name,
                {
                    "slots": 0.0,
                    "alive_nodes": 0,
                    "dead_nodes": 0,
                    "accelerator": labels.get("polyfleet.accelerator")
                    or next(
                        (k.split(":", 1)[1] for k in res if k.startswith("accelerator:")), None
                    ),
                    "vendor": labels.get("polyfleet.vendor")
                    or next((k.split(":", 1)[1] for k in res if k.startswith("vendor:")), None),
                },
            )
            if node.get("Alive"):
                entry["slots"] += amount
                entry["alive_nodes"] += 1
            else:
                entry["dead_nodes"] += 1
    free = ray.available_resources()
    for name, entry in pools.items():
        entry["free"] = float(free.get(f"pool:{name}", 0.0))
        entry["alive"] = entry["alive_nodes"] > 0
    return pools


def _spawn(state_dir: Path) -> None:  # pragma: no cover - the launcher process
    with open(state_dir / "cluster.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "polyfleet.dispatch.cluster", "serve", str(state_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (state_dir / "cluster.pid").write_text(str(proc.pid))
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] in ("serve", "spawn"):
        (_serve if sys.argv[1] == "serve" else _spawn)(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -m polyfleet.dispatch.cluster serve|spawn STATE_DIR")
