"""The lab: a containerlab topology built from network namespaces and Debian's FRR, sshd and snmpd."""

from .builder import DEFAULT_TOPOLOGY, LabState, down, exec_in, node_daemons, run_dir, status, up
from .topology import Topology, load_topology

__all__ = ["DEFAULT_TOPOLOGY", "LabState", "Topology", "down", "exec_in", "load_topology", "node_daemons",
           "run_dir", "status", "up"]
