"""Runs `polyfleet` commands for the hostile-input test, each in its own child process.

It imports the CLI and the modules every command shares once, then forks one child per command
line it reads (JSON on stdin), so that a command costs its own work rather than the ~0.5 s of
imports; the child's exit code, CPU time and peak RSS (from wait4) go back as JSON on stdout.
A child still running after `kill_after` seconds is killed. Children are limited to 6 GiB of
address space, so a runaway allocation fails fast instead of swapping the machine.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any

ADDRESS_SPACE = 6 << 30


def _child(app: Any, request: dict[str, Any]) -> None:
    code = 1
    try:
        os.chdir(request["cwd"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the requests meant for this process
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        try:
            app(args=request["argv"], prog_name="polyfleet")
            code = 0
        except SystemExit as exc:  # how typer ends every command
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # what the interpreter would print for an uncaught exception
            traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, kill_after: float) -> dict[str, Any]:
    deadline, killed = time.monotonic() + kill_after, False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if not killed and time.monotonic() > deadline:
            os.kill(pid, 9)  # not reaped yet, so the pid is still this child's
            killed = True
        time.sleep(0.01)
    return {
        "exit_code": None if killed else os.waitstatus_to_exitcode(status),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss": usage.ru_maxrss * 1024,  # KiB on Linux
    }


def main() -> None:
    # what every command imports anyway, loaded once here
    import polyfleet.economics.deal
    import polyfleet.inputs.jobs
    import polyfleet.inputs.procurement
    import polyfleet.plan.placement  # noqa: F401
    from polyfleet.cli import app

    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(app, request)
        sys.stdout.write(json.dumps(_wait(pid, request["kill_after"])) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
