"""The real lab for integration tests: built once per session (per xdist worker), always torn down.

Each pytest-xdist worker gets a lab of its own (``w0``, ``w1``...; or ``<NETHA_LAB_NAME>0``...):
its own namespaces, run directory, FRR paths and user, so workers never meet. A run without xdist
uses ``NETHA_LAB_NAME``'s lab, or the default lab (``nh-*``, /run/netha-lab) as before.
The chosen name is put in NETHA_LAB_NAME, which the lab harness and every subprocess read.
"""

from __future__ import annotations

import atexit
import os
import shutil

import pytest

from netha import lab as labmod
from netha.lab.daemons import pid_alive
from netha.lab.names import DEFAULT_NAME, ENV_NAME

REQUIRED = ["/usr/lib/frr/zebra", "/usr/lib/frr/vrrpd", "/usr/sbin/sshd", "/usr/sbin/snmpd", "/usr/bin/vtysh",
            "/usr/sbin/keepalived"]


def _session_lab_name() -> str | None:
    """This process's lab: one per xdist worker; None for the process's own (NETHA_LAB_NAME or the default)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1...
    if not worker.startswith("gw"):
        return None
    base = os.environ.get(ENV_NAME) or DEFAULT_NAME
    return f"{'w' if base == DEFAULT_NAME else base}{worker[2:]}"


_NAME = _session_lab_name()
if _NAME is not None:
    os.environ[ENV_NAME] = _NAME


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "integration tests need root (network namespaces)"
    missing = [p for p in REQUIRED if not os.path.exists(p)] + [b for b in ("ip", "nft") if not shutil.which(b)]
    if missing:
        return f"missing binaries: {', '.join(missing)} (run scripts/install.sh)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


class LabHandle:
    """Fault injection on the running lab."""

    def daemons(self, node: str):
        return labmod.node_daemons(node)

    def daemon_pid(self, node: str, daemon: str) -> int:
        pid = pid_alive(self.daemons(node).pidfiles[daemon])
        assert pid, f"{daemon} is not running on {node}"
        return pid

    def kill_daemons(self, node: str) -> None:
        from netha.lab.faults import kill_node

        kill_node(node)

    def restart_daemons(self, node: str) -> None:
        from netha.lab.faults import restart_node

        restart_node(node)


@pytest.fixture(scope="session")
def lab():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    atexit.register(labmod.down, _NAME)
    labmod.up(name=_NAME)
    try:
        yield LabHandle()
    finally:
        labmod.down(_NAME)


@pytest.fixture
def baseline(lab):
    """The FRR pair as the lab built it; put back after the test, whatever it changed."""
    from netha.lab.faults import Baseline

    base = Baseline()
    yield base
    base.restore()


@pytest.fixture
def kbase(lab):
    """The keepalived pair as the lab built it; put back after the test."""
    from netha.lab.faults import KeepalivedBaseline

    base = KeepalivedBaseline()
    yield base
    base.restore()
