"""A pipe that ends a reading thread's wait at once (its read end sits in the thread's select/poll)."""

from __future__ import annotations

import os


class Wakeup:
    """``fd`` goes into the reader's select or poll; :meth:`set` makes it readable (stop the thread)."""

    def __init__(self) -> None:
        self._fds: tuple[int, int] | tuple[()] = os.pipe()

    @property
    def fd(self) -> int:
        return self._fds[0]

    def set(self) -> None:
        try:
            os.write(self._fds[1], b"x")
        except (OSError, IndexError):
            pass

    def close(self) -> None:
        fds, self._fds = self._fds, ()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        self.close()
