"""Two throwaway network namespaces joined by a veth pair, for unit tests that need a real kernel
(raw packet sockets, neighbour caches). Root only; the fixture deletes both namespaces even when the
test fails. Addresses in tests: 2001:2::/48 and fe80::/64 link-locals only."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

CLONE_NEWNET = 0x40000000
T = TypeVar("T")

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root and iproute2 (network namespaces)")


class NetnsPair:
    """Namespaces ``a`` and ``b``; interface ``va`` in ``a`` and ``vb`` in ``b``, both up."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.a, self.b = f"nhut-{tag}-a", f"nhut-{tag}-b"
        self.va, self.vb = "va", "vb"

    def ip(self, ns: str, *argv: str) -> str:
        return subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True, text=True, timeout=10).stdout

    def sysctl(self, ns: str, key: str, value: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"], check=True, timeout=10)

    def up(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
        self.ip(self.a, "link", "add", self.va, "type", "veth", "peer", "name", self.vb, "netns", self.b)
        for ns, dev in ((self.a, self.va), (self.b, self.vb)):
            # No DAD: addresses are usable at once (a tentative address neither sends nor answers).
            self.sysctl(ns, f"net.ipv6.conf.{dev}.accept_dad", "0")
            self.sysctl(ns, f"net.ipv6.conf.{dev}.dad_transmits", "0")
            self.ip(ns, "link", "set", dev, "up")

    def down(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)

    def mac(self, ns: str, dev: str) -> str:
        return self.ip(ns, "-br", "link", "show", dev).split()[2]

    def run_in(self, ns: str, fn: Callable[[], T]) -> T:
        """Run FN in a thread inside namespace NS (sockets it opens belong to NS; threads it starts stay there)."""
        box: dict[str, object] = {}

        def body() -> None:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box["error"] = exc

        t = threading.Thread(target=body, daemon=True)
        t.start()
        t.join(30)
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]


@pytest.fixture
def netns_pair() -> Iterator[NetnsPair]:
    pair = NetnsPair()
    try:
        pair.up()
        yield pair
    finally:
        pair.down()
