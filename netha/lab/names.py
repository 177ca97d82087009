"""Every name a lab takes on the host, derived from the lab's name, so that labs run side by side.

A lab lives in its own network namespaces (the switch's bridges and every veth included), so its
addresses and interface names may repeat from one lab to the next. What the host sees outside those
namespaces must not: the namespace names, the run directory (pid files, sockets, secrets,
known_hosts), FRR's pathspace (``/etc/frr/<ps>``, ``/var/run/frr/<ps>``, ``vtysh -N <ps>``) and the
lab's login user. All of them come from the lab's name here, and nowhere else.

The default lab, ``netha``, keeps the names it always had (``nh-<node>``, ``/run/netha-lab``,
``/etc/frr/<node>``, user ``netha-lab``): ``netha lab up``, ``scripts/demo.sh`` and
``inventories/lab.yml`` work unchanged. Another lab, say ``w1``, is ``nhw1-<node>``,
``/run/netha-lab-w1``, ``/etc/frr/nhw1-<node>``, user ``netha-lab-w1``.

A lab's name is chosen per call (``up(name=...)``, ``netha lab up --name``) or for a whole process
and its children by ``NETHA_LAB_NAME``; without either it is the default lab.

Why the names never meet: a lab name is lowercase letters and digits (no ``-``), as is a node
name, so ``nh<lab>-`` is a prefix of ``nh<other>-<node>`` only when both labs are the same; the
default lab's FRR pathspaces carry no ``-`` while every other lab's do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError

DEFAULT_NAME = "netha"
ENV_NAME = "NETHA_LAB_NAME"
ENV_DIR = "NETHA_LAB_DIR"  # the default lab's run directory, if not /run/netha-lab
DEFAULT_RUN_DIR = Path("/run/netha-lab")
DEFAULT_USER = "netha-lab"
SWITCH = "sw"
FRR_ETC = Path("/etc/frr")
FRR_RUN = Path("/var/run/frr")
_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


@dataclass(frozen=True)
class LabNames:
    """The host-visible names of one lab."""

    name: str = DEFAULT_NAME

    def __post_init__(self) -> None:
        if not _LAB_NAME.match(self.name):
            raise LabError(f"lab name {self.name!r}: 1-12 lowercase letters and digits, starting with a letter")

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME

    # -- network namespaces ----------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return "nh-" if self.is_default else f"nh{self.name}-"

    def netns(self, node: str) -> str:
        return self.prefix + node

    @property
    def switch(self) -> str:
        """The namespace that holds the lab's bridges (and every bridge-side veth end)."""
        return self.netns(SWITCH)

    def owns_namespace(self, ns: str) -> bool:
        return ns.startswith(self.prefix) and "-" not in ns[len(self.prefix):]

    # -- files and users -------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        if self.is_default:
            return Path(os.environ.get(ENV_DIR) or DEFAULT_RUN_DIR)
        return Path(f"{DEFAULT_RUN_DIR}-{self.name}")

    def pathspace(self, node: str) -> str:
        """FRR's ``-N`` name of NODE: its config under /etc/frr/<ps>, its sockets under /var/run/frr/<ps>."""
        return node if self.is_default else self.prefix + node

    def owns_pathspace(self, ps: str) -> bool:
        if self.is_default:
            return "-" not in ps
        return ps.startswith(self.prefix) and "-" not in ps[len(self.prefix):]

    def frr_dir(self, node: str) -> Path:
        return FRR_ETC / self.pathspace(node)

    def frr_sock(self, node: str) -> Path:
        return FRR_RUN / self.pathspace(node)

    @property
    def user(self) -> str:
        """The login user of the FRR routers' sshd (its shell is the router's vtysh)."""
        return DEFAULT_USER if self.is_default else f"{DEFAULT_USER}-{self.name}"

    @property
    def user_comment(self) -> str:
        return "netha lab" if self.is_default else f"netha lab {self.name}"

    def host_names(self, nodes: list[str]) -> dict[str, set[str]]:
        """Everything of a lab with these nodes that the host sees outside the lab's namespaces."""
        return {
            "namespaces": {self.switch} | {self.netns(n) for n in nodes},
            "paths": {str(self.run_dir)} | {str(self.frr_dir(n)) for n in nodes} | {str(self.frr_sock(n)) for n in nodes},
            "pathspaces": {self.pathspace(n) for n in nodes},
            "users": {self.user},
            # Every link is made inside the switch namespace with its peer sent straight into the
            # node's: the root namespace gets no interface at all.
            "root_interfaces": set(),
        }

    # -- texts written for the default lab ---------------------------------------------------------
    def localise(self, text: str, node: str | None = None) -> str:
        """A lab file written for the default lab (paths under /run/netha-lab, ``vtysh -N r1``, user
        netha-lab), made to name this lab's run directory, pathspace and user instead."""
        text = re.sub(rf"{re.escape(str(DEFAULT_RUN_DIR))}(?=/)", str(self.run_dir), text)
        if node is not None:
            text = re.sub(rf"(\bvtysh\s+-N\s+){re.escape(node)}(?=\s|$)", rf"\g<1>{self.pathspace(node)}", text,
                          flags=re.M)
        lines = []
        for line in text.splitlines(keepends=True):
            words = line.split()
            if words[:1] == ["AllowUsers"] or [w.lower() for w in words[:2]] == ["match", "user"]:
                line = re.sub(rf"(?<=[\s,]){re.escape(DEFAULT_USER)}(?=[\s,]|$)", self.user, line)
            lines.append(line)
        return "".join(lines)

    def inventory(self, doc: dict) -> dict:
        """The lab inventory (inventories/lab.yml, loaded) pointed at this lab: the controller's
        namespace, and every file under /run/netha-lab (secrets, known_hosts, state)."""

        def walk(value):
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, str) and (value == str(DEFAULT_RUN_DIR) or value.startswith(f"{DEFAULT_RUN_DIR}/")):
                return str(self.run_dir) + value[len(str(DEFAULT_RUN_DIR)):]
            return value

        out = walk(doc)
        ctl = (out.get("controller") or {}).get("netns")
        if isinstance(ctl, str) and ctl.startswith("nh-"):
            out["controller"]["netns"] = self.netns(ctl[len("nh-"):])
        return out


def lab_names(name: str | None = None) -> LabNames:
    """The names of lab NAME, or of the process's lab (``NETHA_LAB_NAME``, else the default lab)."""
    return LabNames(name or os.environ.get(ENV_NAME) or DEFAULT_NAME)


def labs_present(namespaces: list[str]) -> set[str]:
    """Names of the labs that have namespaces among NAMESPACES (``ip netns list``)."""
    found = set()
    for ns in namespaces:
        m = re.match(r"^nh([a-z][a-z0-9]{0,11})?-[^-]+$", ns)
        if m:
            found.add(m.group(1) or DEFAULT_NAME)
    return found
