"""One writer per ledger: an exclusive `flock` on a file beside it, held while the ledger is open.

Two `polyfleet run`s on one ledger would otherwise both submit every waiting job. The lock is the
kernel's (released when the process ends, however it ends), so a killed run never leaves a stale
lock behind; the file holds the holder's pid and command line only to say who has it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from polyfleet.errors import InputError, PolyfleetError

__all__ = ["LedgerLock"]


class LedgerLock:
    """An exclusive lock on `<ledger>.lock`; `acquire` refuses (or waits) while another holds it."""

    def __init__(self, ledger: str | Path) -> None:
        self.ledger = Path(ledger)
        self.path = self.ledger.with_name(self.ledger.name + ".lock")
        self._fd: int | None = None

    def acquire(self, *, wait: bool = False, on_wait: Callable[[str], None] | None = None) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise InputError(
                f"cannot create the lock file {self.path} ({exc.strerror or exc}); check that "
                f"{self.path.parent} is a folder you can write in",
                file=str(self.ledger),
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                os.close(fd)
                raise PolyfleetError(
                    f"the ledger {self.ledger} is in use by another run ({holder}); wait for it "
                    "to finish, or pass --wait to start when it does"
                ) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.pwrite(fd, json.dumps({**record, "argv": sys.argv[:8]}).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def _holder(fd: int) -> str:
    """Who holds the lock, as far as its file says ('pid 123 on host, since 12:00:01')."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {int(info['pid'])} on {info['host']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet said which"  # it took the lock a moment ago
