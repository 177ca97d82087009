"""Enter a named network namespace (``ip netns`` style) for the whole process."""

from __future__ import annotations

import ctypes
import os
import threading

from .errors import NethaError

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"


def enter_netns(name: str) -> None:
    """Move this process into network namespace ``name``.

    Must run before any thread starts: namespaces are per thread, and threads started later
    inherit the namespace of the thread that starts them. When the namespace does not exist
    (e.g. the lab is down) this fails, so nothing is ever sent from the wrong namespace.
    """
    if threading.active_count() > 1:
        raise NethaError(f"cannot enter network namespace {name}: other threads are already running")
    path = os.path.join(NETNS_RUN_DIR, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NethaError(f"network namespace {name} does not exist (is the lab up? `netha lab up`)") from None
    except PermissionError:
        raise NethaError(f"network namespace {name}: permission denied (run as root)") from None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NethaError(f"cannot enter network namespace {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def current_netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino
