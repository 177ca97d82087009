"""Build the lab from a topology with network namespaces, and tear it down without leaving a trace."""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets as pysecrets
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from .daemons import LAB_USER, NodeDaemons, Secrets, in_ns, kill_pids, netns, run
from .topology import Topology, load_topology

log = logging.getLogger(__name__)

PREFIX = "nh-"
SWITCH = "sw"
MGMT_BRIDGE = "mgmt"
DEFAULT_TOPOLOGY = Path(__file__).resolve().parents[2] / "lab" / "netha.clab.yml"


def run_dir() -> Path:
    return Path(os.environ.get("NETHA_LAB_DIR", "/run/netha-lab"))


@dataclass
class LabState:
    topology: str
    namespaces: list[str] = field(default_factory=list)
    user_created: bool = False
    frr_nodes: list[str] = field(default_factory=list)
    started: float = 0.0
    ready: bool = False

    def save(self) -> None:
        path = run_dir() / "state.json"
        path.write_text(json.dumps(self.__dict__, indent=1))

    @staticmethod
    def load() -> LabState | None:
        try:
            return LabState(**json.loads((run_dir() / "state.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None


def existing_namespaces() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# -- up ------------------------------------------------------------------------------------------
def up(topology: Path | None = None) -> LabState:
    """Build the lab. Idempotent: a healthy lab of the same topology is left untouched."""
    topo = load_topology(Path(topology or DEFAULT_TOPOLOGY))
    state = LabState.load()
    if state is not None:
        if state.ready and state.topology == str(topo.path.resolve()) and _healthy(topo):
            log.info("lab already up and healthy; nothing to do")
            return state
        log.warning("lab half up or of another topology: tearing it down first")
        down()
    elif any(ns.startswith(PREFIX) for ns in existing_namespaces()):
        down()
    t0 = time.monotonic()
    rd = run_dir()
    rd.mkdir(parents=True, exist_ok=True)
    os.chmod(rd, 0o711)
    state = LabState(topology=str(topo.path.resolve()), started=time.time())
    state.save()
    try:
        secrets = _make_secrets(rd)
        state.user_created = _ensure_user(secrets.ssh_password)
        state.save()
        _build_network(topo, state)
        hostkeys = {}
        for node in topo.nodes.values():
            if node.kind != "linux":
                continue
            key = NodeDaemons(node, rd).start(secrets)
            if node.role == "frr-router":
                state.frr_nodes.append(node.name)
            if key and node.mgmt_ipv4:
                hostkeys[str(node.mgmt_ipv4)] = key
            state.save()
        known = rd / "known_hosts"
        known.write_text("".join(f"{ip} {key}\n" for ip, key in hostkeys.items()))
        os.chmod(known, 0o600)
        _wait_ready(topo)
    except BaseException:
        log.error("lab up failed: tearing down what was built")
        down()
        raise
    state.ready = True
    state.save()
    log.info("lab up in %.1fs", time.monotonic() - t0)
    return state


def _make_secrets(rd: Path) -> Secrets:
    sdir = rd / "secrets"
    sdir.mkdir(exist_ok=True, mode=0o700)
    values = {
        "ssh-username": LAB_USER,
        "ssh-password": pysecrets.token_urlsafe(18),
        "snmp-community": pysecrets.token_hex(12),
        "snmpv3-user": "netha",
        "snmpv3-auth": pysecrets.token_hex(12),
        "snmpv3-priv": pysecrets.token_hex(12),
    }
    for name, value in values.items():
        path = sdir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
    _make_ssh_key(sdir)
    return Secrets(values["ssh-username"], values["ssh-password"], values["snmp-community"],
                   values["snmpv3-user"], values["snmpv3-auth"], values["snmpv3-priv"])


def _make_ssh_key(sdir: Path) -> None:
    """A client key for the Linux (keepalived) routers, whose sshd takes root by this key only."""
    key = sdir / "ssh-key"
    key.unlink(missing_ok=True)
    key.with_suffix(".pub").unlink(missing_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netha-lab-controller", "-f", str(key))
    pub = key.with_suffix(".pub").read_text().strip()
    auth = sdir / "authorized_keys"
    auth.write_text(f'from="198.18.0.0/15",no-port-forwarding,no-agent-forwarding,no-X11-forwarding {pub}\n')
    for path in (key, key.with_suffix(".pub"), auth):
        os.chmod(path, 0o600)


def _make_secrets_from_files() -> Secrets:
    """The secrets of the running lab (to restart a node's daemons)."""
    d = run_dir() / "secrets"
    v = {n: (d / n).read_text().strip() for n in
         ("ssh-username", "ssh-password", "snmp-community", "snmpv3-user", "snmpv3-auth", "snmpv3-priv")}
    return Secrets(v["ssh-username"], v["ssh-password"], v["snmp-community"], v["snmpv3-user"], v["snmpv3-auth"], v["snmpv3-priv"])


def _ensure_user(password: str) -> bool:
    created = False
    try:
        pwd.getpwnam(LAB_USER)
    except KeyError:
        run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
            "--comment", "netha lab", "--groups", "frrvty", LAB_USER)
        created = True
    subprocess.run(["chpasswd"], input=f"{LAB_USER}:{password}\n", text=True, check=True, capture_output=True)
    return created


def _build_network(topo: Topology, state: LabState) -> None:
    sw = PREFIX + SWITCH
    for ns in [sw] + [netns(n.name) for n in topo.nodes.values() if n.kind == "linux"]:
        run("ip", "netns", "add", ns)
        state.namespaces.append(ns)
        state.save()
        run("ip", "-n", ns, "link", "set", "dev", "lo", "up")
    bridges = list(topo.bridges) + ([MGMT_BRIDGE] if topo.mgmt_subnet else [])
    for br in bridges:
        run("ip", "-n", sw, "link", "add", "name", br, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        run("ip", "-n", sw, "link", "set", "dev", br, "up")
    run("ip", "netns", "exec", sw, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    for link in topo.links:
        _veth(link.node, link.iface, link.bridge, link.port)
    if topo.mgmt_subnet is not None:
        for node in topo.nodes.values():
            if node.mgmt_ipv4 is not None:
                _veth(node.name, "eth0", MGMT_BRIDGE, f"{node.name}-eth0")
                run("ip", "-n", netns(node.name), "addr", "add", f"{node.mgmt_ipv4}/{topo.mgmt_subnet.prefixlen}", "dev", "eth0")
    for node in topo.nodes.values():
        for cmd in node.exec:
            in_ns(node.name, *shlex.split(cmd))


def _veth(node: str, iface: str, bridge: str, port: str) -> None:
    sw = PREFIX + SWITCH
    run("ip", "-n", sw, "link", "add", "name", port, "type", "veth", "peer", "name", iface, "netns", netns(node))
    run("ip", "-n", sw, "link", "set", "dev", port, "master", bridge, "up")
    run("ip", "-n", netns(node), "link", "set", "dev", iface, "up")


def _vrrp_states(node: str) -> dict[tuple[str, int], str]:
    """(interface, VRID) -> FRR's state of that instance on NODE."""
    r = run("vtysh", "-N", node, "-c", "show vrrp json", check=False)
    try:
        return {(g["interface"], g["vrid"]): g["v4"]["status"] for g in json.loads(r.stdout[r.stdout.find("["):])}
    except (ValueError, KeyError, TypeError):
        return {}


def _vip_holders(topo: Topology) -> dict[str, list[str]]:
    """keepalived puts the virtual address on the interface itself: who holds which?"""
    holders: dict[str, list[str]] = {}
    for node in topo.of_role("keepalived-router"):
        out = run("ip", "-n", netns(node.name), "-4", "-o", "addr", "show", check=False).stdout
        for line in out.splitlines():
            if " secondary " in line or "/32" in line:
                holders.setdefault(line.split()[3], []).append(node.name)
    return holders


def _wait_ready(topo: Topology, timeout: float = 30.0) -> None:
    keepalived = topo.of_role("keepalived-router")
    if keepalived:
        deadline = time.monotonic() + timeout
        while not (_vip_holders(topo) and all(len(v) == 1 for v in _vip_holders(topo).values())):
            if time.monotonic() > deadline:
                raise LabError(f"keepalived pair not ready after {timeout:.0f}s: {_vip_holders(topo)}")
            time.sleep(0.1)
    routers = [n.name for n in topo.of_role("frr-router")]
    deadline = time.monotonic() + timeout
    while True:
        states = {r: _vrrp_states(r) for r in routers}
        # One master per VRID per segment (a scaled lab reuses VRIDs on every pair's own LAN).
        segment = {(ln.node, ln.iface): ln.bridge for ln in topo.links}
        masters: dict[tuple[str, int], list[str]] = {}
        for r, s in states.items():
            for (iface, vrid), st in s.items():
                group = masters.setdefault((segment.get((r, iface), f"{r}:{iface}"), vrid), [])
                if st == "Master":
                    group.append(r)
        ok = all(states.values()) and all(len(m) == 1 for m in masters.values())
        if ok and _sshd_listening(topo):
            return
        if time.monotonic() > deadline:
            raise LabError(f"lab not ready after {timeout:.0f}s: VRRP masters {masters}")
        time.sleep(0.1)


def _sshd_listening(topo: Topology) -> bool:
    for node in topo.nodes.values():
        if "/etc/ssh/sshd_config" in node.binds:
            out = in_ns(node.name, "ss", "-Hltn", check=False).stdout
            if f"{node.mgmt_ipv4}:22" not in out:
                return False
    return True


def _healthy(topo: Topology) -> bool:
    have = set(existing_namespaces())
    need = {PREFIX + SWITCH} | {netns(n.name) for n in topo.nodes.values() if n.kind == "linux"}
    if not need <= have:
        return False
    for node in topo.nodes.values():
        if node.kind == "linux" and not all(NodeDaemons(node, run_dir()).alive().values()):
            return False
    return True


# -- down ----------------------------------------------------------------------------------------
def down() -> None:
    """Remove every namespace, process, interface, file and the user the lab made. Safe to repeat."""
    state = LabState.load()
    namespaces = [ns for ns in existing_namespaces() if ns.startswith(PREFIX)]
    pids: list[int] = []
    for ns in namespaces:
        out = run("ip", "netns", "pids", ns, check=False).stdout
        pids += [int(p) for p in out.split() if p.isdigit()]
    kill_pids(sorted(set(pids)))
    for ns in namespaces:
        run("ip", "netns", "del", ns, check=False)
    frr_nodes = set(state.frr_nodes if state else [])
    for d in Path("/etc/frr").glob("*/.netha-lab") if Path("/etc/frr").exists() else []:
        frr_nodes.add(d.parent.name)
    for name in frr_nodes:
        shutil.rmtree(Path("/etc/frr") / name, ignore_errors=True)
        shutil.rmtree(Path("/var/run/frr") / name, ignore_errors=True)
    if state is None or state.user_created:
        try:
            if pwd.getpwnam(LAB_USER).pw_gecos == "netha lab":
                run("userdel", LAB_USER, check=False)
        except KeyError:
            pass
    shutil.rmtree(run_dir(), ignore_errors=True)


# -- inspection and use ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStatus:
    name: str
    role: str
    namespace: str
    present: bool
    daemons: dict[str, int | None]
    addresses: list[str]


def status(topology: Path | None = None) -> list[NodeStatus]:
    state = LabState.load()
    if state is None:
        return []
    topo = load_topology(Path(topology or state.topology))
    have = set(existing_namespaces())
    result = []
    for node in topo.nodes.values():
        if node.kind != "linux":
            continue
        ns = netns(node.name)
        addrs: list[str] = []
        if ns in have:
            out = run("ip", "-n", ns, "-br", "-4", "addr", "show", check=False).stdout
            for line in out.splitlines():
                parts = line.split()
                if parts and parts[0] != "lo":
                    addrs += [f"{parts[0].split('@')[0]} {a}" for a in parts[2:]]
        result.append(NodeStatus(node.name, node.role, ns, ns in have, NodeDaemons(node, run_dir()).alive(), addrs))
    return result


def exec_in(node: str, argv: list[str], check: bool = False) -> int:
    """Run ``argv`` in NODE's namespace with the caller's stdio; returns its exit code."""
    if netns(node) not in existing_namespaces():
        raise LabError(f"no lab node {node!r} (is the lab up? `netha lab status`)")
    r = subprocess.run(["ip", "netns", "exec", netns(node), *argv])
    if check and r.returncode:
        raise LabError(f"{' '.join(argv)} in {node} exited {r.returncode}")
    return r.returncode


def node_daemons(node: str) -> NodeDaemons:
    state = LabState.load()
    if state is None:
        raise LabError("the lab is not up")
    topo = load_topology(Path(state.topology))
    if node not in topo.nodes:
        raise LabError(f"no lab node {node!r}")
    return NodeDaemons(topo.nodes[node], run_dir())
