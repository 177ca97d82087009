"""The embedded default: one controller per state directory, by an flock (nothing to install).

The process that holds ``controller.lock`` is the leader for as long as it lives; the kernel
releases the lock when it dies, however it dies. There is no lease: the lock cannot be lost while
the process runs, so the fencing check is the lock itself.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..lock import InventoryLock
from .base import ControllerInfo, Coordinator, Fenced, LeaderView, Token

_ID = re.compile(r"controller (\S+)")


class FileCoordinator(Coordinator):
    backend = "file"

    def __init__(self, state_dir: Path, controller_id: str, purpose: str = "netha run"):
        super().__init__(controller_id)
        self.state_dir = Path(state_dir)
        self.purpose = purpose
        self._lock: InventoryLock | None = None
        self._since: float | None = None

    def start(self) -> None:
        """Take the lock, or raise LockHeld (another controller runs on this state directory)."""
        self._lock = InventoryLock(self.state_dir).acquire(f"{self.purpose}, controller {self.id}")
        self._since = time.time()
        self.stats.leader_changes += 1
        self.changed.set()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def is_leader(self, group: str | None = None) -> bool:
        return self._lock is not None

    def token(self, group: str | None = None) -> Token | None:
        return Token(self.id, os.getpid(), "file") if self._lock is not None else None

    def check(self, token: Token) -> None:
        self.stats.fence_checks += 1
        if self._lock is None or token.controller != self.id:
            self.stats.fence_refusals += 1
            raise Fenced(f"controller {token.controller} no longer holds {self.state_dir}/controller.lock")

    @contextmanager
    def hold(self, purpose: str) -> Iterator[Token]:
        """The lock for one operator command (LockHeld while a daemon runs on this state directory)."""
        lock = InventoryLock(self.state_dir).acquire(purpose)
        self._lock = lock
        try:
            yield Token(self.id, os.getpid(), "file")
        finally:
            self._lock = None
            lock.release()

    def view(self) -> LeaderView:
        if self._lock is not None:
            me = ControllerInfo(self.id, True, time.time(), None, os.getpid(), "leader")
            return LeaderView("file", self.id, (me,), True, f"holds {self.state_dir}/controller.lock")
        holder = InventoryLock(self.state_dir).holder()
        if holder is None:
            return LeaderView("file", None, (), True, f"no controller holds {self.state_dir}/controller.lock")
        m = _ID.search(holder)
        who = m.group(1).rstrip(",") if m else holder
        return LeaderView("file", who, (ControllerInfo(who, True, None, state="leader"),), True,
                          f"{self.state_dir}/controller.lock: {holder}")
