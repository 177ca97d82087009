"""One controller acts on an inventory at a time: an flock in the state directory."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from .errors import LockHeld


class InventoryLock:
    """Held for as long as the process runs the plan or the daemon; released on close or death."""

    def __init__(self, state_dir: Path, name: str = "controller"):
        self.path = Path(state_dir) / f"{name}.lock"
        self._fd: int | None = None

    def acquire(self, purpose: str) -> InventoryLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockHeld(f"another controller is acting on this inventory ({holder}); lock {self.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}: {purpose}, since {time.strftime('%H:%M:%S')}".encode())
        self._fd = fd
        return self

    def holder(self) -> str | None:
        """Who holds the lock now (its note: pid, host, purpose), or None when nobody does."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return os.read(fd, 512).decode(errors="replace").strip() or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InventoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
