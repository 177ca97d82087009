"""The lab and bench harness: a containerlab topology built from network namespaces and Debian's FRR,
sshd, snmpd and keepalived; fault injection (``faults``) and probe traffic (``traffic``).

Not part of the library's core: nothing under netha/ imports it except ``netha lab`` (netha/cli/lab.py).
Submodules load on first use, so ``python -m netha.lab.traffic`` (the probes) starts fast.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DEFAULT_TOPOLOGY": "builder", "LabState": "builder", "down": "builder", "exec_in": "builder", "labs": "builder",
    "node_daemons": "builder", "run_dir": "builder", "status": "builder", "up": "builder",
    "Topology": "topology", "load_topology": "topology",
    "LabNames": "names", "lab_names": "names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
