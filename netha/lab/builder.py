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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from .daemons import MARKER, NodeDaemons, Secrets, in_ns, kill_pids, run
from .names import DEFAULT_RUN_DIR, LabNames, lab_names, labs_present
from .topology import Topology, load_topology

log = logging.getLogger(__name__)

MGMT_BRIDGE = "mgmt"
DEFAULT_TOPOLOGY = Path(__file__).resolve().parents[2] / "lab" / "netha.clab.yml"


def run_dir(name: str | None = None) -> Path:
    """The run directory of lab NAME (default: the process's lab, see ``names.lab_names``)."""
    return lab_names(name).run_dir


@dataclass
class LabState:
    topology: str
    namespaces: list[str] = field(default_factory=list)
    user_created: bool = False
    frr_nodes: list[str] = field(default_factory=list)
    started: float = 0.0
    ready: bool = False
    name: str = LabNames().name

    def save(self) -> None:
        path = LabNames(self.name).run_dir / "state.json"
        path.write_text(json.dumps(self.__dict__, indent=1))

    @staticmethod
    def load(name: str | None = None) -> LabState | None:
        names = lab_names(name)
        try:
            doc = json.loads((names.run_dir / "state.json").read_text())
            return LabState(**{**doc, "name": names.name})
        except (OSError, ValueError, TypeError):
            return None


def existing_namespaces() -> list[str]:
    out = run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# -- up ------------------------------------------------------------------------------------------
# progress(done, total, what): how far ``up`` is (the network, each node's daemons, the wait for VRRP).
Progress = Callable[[int, int, str], None]


def up(topology: Path | None = None, name: str | None = None, progress: Progress | None = None) -> LabState:
    """Build lab NAME (default: the process's lab) from TOPOLOGY. Idempotent: a healthy lab of the same
    topology is left untouched. Other labs on the host are never touched (``names``)."""
    report: Progress = progress or (lambda _done, _total, _what: None)
    names = lab_names(name)
    topo = load_topology(Path(topology or DEFAULT_TOPOLOGY))
    state = LabState.load(names.name)
    if state is not None:
        if state.ready and state.topology == str(topo.path.resolve()) and _healthy(topo, names):
            log.info("lab %s already up and healthy; nothing to do", names.name)
            return state
        log.warning("lab %s half up or of another topology: tearing it down first", names.name)
        down(names.name)
    elif any(names.owns_namespace(ns) for ns in existing_namespaces()):
        down(names.name)
    t0 = time.monotonic()
    rd = names.run_dir
    rd.mkdir(parents=True, exist_ok=True)
    os.chmod(rd, 0o711)
    state = LabState(topology=str(topo.path.resolve()), started=time.time(), name=names.name)
    state.save()
    try:
        secrets = _make_secrets(rd, names)
        state.user_created = _ensure_user(names, secrets.ssh_password)
        state.save()
        linux = [n for n in topo.nodes.values() if n.kind == "linux"]
        total = len(linux) + 2
        report(0, total, "network")
        _build_network(topo, state, names)
        report(1, total, "network")
        hostkeys = {}
        sinks = notification_sinks(topo)
        for i, node in enumerate(linux, 2):
            key = NodeDaemons(node, names, notify=sinks).start(secrets)
            report(i, total, node.name)
            if node.role == "frr-router":
                state.frr_nodes.append(node.name)
            if key and node.mgmt_ipv4:
                hostkeys[str(node.mgmt_ipv4)] = key
            state.save()
        known = rd / "known_hosts"
        known.write_text("".join(f"{ip} {key}\n" for ip, key in hostkeys.items()))
        os.chmod(known, 0o600)
        _wait_ready(topo, names)
        report(total, total, "VRRP masters")
    except BaseException:
        log.error("lab %s up failed: tearing down what was built", names.name)
        down(names.name)
        raise
    state.ready = True
    state.save()
    log.info("lab %s up in %.1fs", names.name, time.monotonic() - t0)
    return state


def _make_secrets(rd: Path, names: LabNames) -> Secrets:
    sdir = rd / "secrets"
    sdir.mkdir(exist_ok=True, mode=0o700)
    values = {
        "ssh-username": names.user,
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


def _make_secrets_from_files(name: str | None = None) -> Secrets:
    """The secrets of the running lab (to restart a node's daemons)."""
    d = run_dir(name) / "secrets"
    v = {n: (d / n).read_text().strip() for n in
         ("ssh-username", "ssh-password", "snmp-community", "snmpv3-user", "snmpv3-auth", "snmpv3-priv")}
    return Secrets(v["ssh-username"], v["ssh-password"], v["snmp-community"], v["snmpv3-user"], v["snmpv3-auth"], v["snmpv3-priv"])


def _ensure_user(names: LabNames, password: str) -> bool:
    """The lab's own login user (one per lab: another lab's password never overwrites this one's)."""
    created = False
    try:
        pwd.getpwnam(names.user)
    except KeyError:
        _retry_locked("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh",
                      "--comment", names.user_comment, "--groups", "frrvty", names.user)
        created = True
    _retry_locked("chpasswd", stdin=f"{names.user}:{password}\n")
    return created


def _retry_locked(*argv: str, stdin: str | None = None, tries: int = 5) -> None:
    """useradd, userdel and chpasswd give up at once when another lab holds /etc/passwd's lock."""
    for i in range(tries):
        r = subprocess.run(argv, input=stdin, text=True, capture_output=True, timeout=60)
        if r.returncode == 0:
            return
        if i + 1 == tries or "lock" not in (r.stderr + r.stdout).lower():
            raise LabError(f"`{argv[0]}` failed: {(r.stderr or r.stdout).strip() or r.returncode}")
        time.sleep(0.5 * (i + 1))


def _build_network(topo: Topology, state: LabState, names: LabNames) -> None:
    sw = names.switch
    for ns in [sw] + [names.netns(n.name) for n in topo.nodes.values() if n.kind == "linux"]:
        run("ip", "netns", "add", ns)
        state.namespaces.append(ns)
        state.save()
        run("ip", "-n", ns, "link", "set", "dev", "lo", "up")
        if ns != sw:
            # No duplicate address detection in the lab: an IPv6 address (a virtual one moving with a
            # VRRP role, a macvlan's link-local) is usable at once, not 1-2 s later. No router
            # advertisements taken either: FRR's IPv6 master advertises itself from its macvlan's own
            # link-local address, which is no virtual address; the hosts route through the IPv6 virtual
            # gateway they are configured with. Static IPv6 addresses survive an interface's admin
            # down/up, as IPv4 ones do (a router's config would put them back; the kernel's default,
            # keep_addr_on_down=0, deletes them: a test that flapped r1's LAN port left r1 without its
            # LAN prefix, and wan -> h1 over IPv6 black-holed for every later test). Set before any
            # interface enters the namespace, so every one inherits it.
            for scope in ("all", "default"):
                for knob, value in (("accept_dad", 0), ("accept_ra", 0), ("keep_addr_on_down", 1)):
                    run("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{scope}.{knob}={value}")
    bridges = list(topo.bridges) + ([MGMT_BRIDGE] if topo.mgmt_subnet else [])
    for br in bridges:
        # No multicast snooping: VRRP's IPv6 group ff02::12 reaches every port, the listener's legs too
        # (a snooping bridge forwards a joined group only to the ports that joined it).
        run("ip", "-n", sw, "link", "add", "name", br, "type", "bridge", "stp_state", "0", "forward_delay", "0",
            "mcast_snooping", "0")
        run("ip", "-n", sw, "link", "set", "dev", br, "up")
    run("ip", "netns", "exec", sw, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    for link in topo.links:
        _veth(names, link.node, link.iface, link.bridge, link.port)
    if topo.mgmt_subnet is not None:
        for node in topo.nodes.values():
            if node.mgmt_ipv4 is not None:
                _veth(names, node.name, "eth0", MGMT_BRIDGE, f"{node.name}-eth0")
                run("ip", "-n", names.netns(node.name), "addr", "add", f"{node.mgmt_ipv4}/{topo.mgmt_subnet.prefixlen}",
                    "dev", "eth0")
    for node in topo.nodes.values():
        for cmd in node.exec:
            in_ns(node.name, *shlex.split(cmd), lab=names)


def _veth(names: LabNames, node: str, iface: str, bridge: str, port: str) -> None:
    """A veth made inside the switch's namespace, its peer sent straight into NODE's: never in the root namespace."""
    sw = names.switch
    run("ip", "-n", sw, "link", "add", "name", port, "type", "veth", "peer", "name", iface, "netns", names.netns(node))
    run("ip", "-n", sw, "link", "set", "dev", port, "master", bridge, "up")
    run("ip", "-n", names.netns(node), "link", "set", "dev", iface, "up")


def _vrrp_states(names: LabNames, node: str) -> dict[tuple[str, int, int], str]:
    """(interface, VRID, family) -> FRR's state of that group on NODE: FRR's instance (interface, VRID)
    holds an IPv4 and an IPv6 router; one without addresses is no group (an IPv4 one counts when the
    instance has no addresses at all)."""
    r = run("vtysh", "-N", names.pathspace(node), "-c", "show vrrp json", check=False)
    try:
        out: dict[tuple[str, int, int], str] = {}
        for g in json.loads(r.stdout[r.stdout.find("["):]):
            v6 = g.get("v6") or {}
            if v6.get("addresses"):
                out[(g["interface"], g["vrid"], 6)] = v6["status"]
            if g["v4"].get("addresses") or not v6.get("addresses"):
                out[(g["interface"], g["vrid"], 4)] = g["v4"]["status"]
        return out
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def _vip_holders(topo: Topology, names: LabNames) -> dict[str, list[str]]:
    """keepalived puts the virtual address on the interface itself: who holds which?"""
    holders: dict[str, list[str]] = {}
    for node in topo.of_role("keepalived-router"):
        out = run("ip", "-n", names.netns(node.name), "-4", "-o", "addr", "show", check=False).stdout
        for line in out.splitlines():
            if " secondary " in line or "/32" in line:
                holders.setdefault(line.split()[3], []).append(node.name)
        # IPv6 has no secondary addresses: a global address the node's exec lines did not add is virtual.
        own = {w for cmd in node.exec for w in cmd.split() if ":" in w}
        out = run("ip", "-n", names.netns(node.name), "-6", "-o", "addr", "show", "scope", "global", check=False).stdout
        for line in out.splitlines():
            words = line.split()
            if len(words) > 3 and words[2] == "inet6" and words[3] not in own:
                holders.setdefault(words[3], []).append(node.name)
    return holders


def _wait_ready(topo: Topology, names: LabNames, timeout: float = 30.0) -> None:
    members = topo.of_role("etcd")
    if members:
        deadline = time.monotonic() + timeout
        while not all(NodeDaemons(m, names).etcd_healthy() for m in members):
            if time.monotonic() > deadline:
                raise LabError(f"etcd cluster ({', '.join(m.name for m in members)}) not healthy after {timeout:.0f}s")
            time.sleep(0.2)
    keepalived = topo.of_role("keepalived-router")
    if keepalived:
        deadline = time.monotonic() + timeout
        while not ((h := _vip_holders(topo, names)) and all(len(v) == 1 for v in h.values())):
            if time.monotonic() > deadline:
                raise LabError(f"keepalived pair not ready after {timeout:.0f}s: {_vip_holders(topo, names)}")
            time.sleep(0.1)
    routers = [n.name for n in topo.of_role("frr-router")]
    deadline = time.monotonic() + timeout
    while True:
        states = {r: _vrrp_states(names, r) for r in routers}
        # One master per VRID per segment (a scaled lab reuses VRIDs on every pair's own LAN).
        segment = {(ln.node, ln.iface): ln.bridge for ln in topo.links}
        masters: dict[tuple[str, int, int], list[str]] = {}
        for r, s in states.items():
            for (iface, vrid, family), st in s.items():
                group = masters.setdefault((segment.get((r, iface), f"{r}:{iface}"), vrid, family), [])
                if st == "Master":
                    group.append(r)
        ok = all(states.values()) and all(len(m) == 1 for m in masters.values())
        if ok and _sshd_listening(topo, names):
            return
        if time.monotonic() > deadline:
            raise LabError(f"lab not ready after {timeout:.0f}s: VRRP masters {masters}")
        time.sleep(0.1)


def _sshd_listening(topo: Topology, names: LabNames) -> bool:
    for node in topo.nodes.values():
        if "/etc/ssh/sshd_config" in node.binds:
            out = in_ns(node.name, "ss", "-Hltn", check=False, lab=names).stdout
            if f"{node.mgmt_ipv4}:22" not in out:
                return False
    return True


def _healthy(topo: Topology, names: LabNames) -> bool:
    have = set(existing_namespaces())
    need = {names.switch} | {names.netns(n.name) for n in topo.nodes.values() if n.kind == "linux"}
    if not need <= have:
        return False
    for node in topo.nodes.values():
        if node.kind == "linux" and not all(NodeDaemons(node, names).alive().values()):
            return False
    return True


# -- down ----------------------------------------------------------------------------------------
def down(name: str | None = None) -> None:
    """Remove every namespace, process, interface, file and the user lab NAME made (default: the
    process's lab), and nothing of another lab. Safe to repeat."""
    names = lab_names(name)
    state = LabState.load(names.name)
    namespaces = [ns for ns in existing_namespaces() if names.owns_namespace(ns)]
    pids: list[int] = []
    for ns in namespaces:
        out = run("ip", "netns", "pids", ns, check=False).stdout
        pids += [int(p) for p in out.split() if p.isdigit()]
    kill_pids(sorted(set(pids)))
    # A daemon left in a namespace that was deleted and made again (or started twice over a missing pid
    # file) is in no namespace `ip netns pids` lists: find the lab's processes by their command lines.
    kill_pids(_lab_processes(names))
    for ns in namespaces:
        run("ip", "netns", "del", ns, check=False)
    pathspaces = {names.pathspace(n) for n in (state.frr_nodes if state else [])}
    etc = names.frr_dir("x").parent
    for marker in etc.glob(f"*/{MARKER}") if etc.exists() else []:
        if names.owns_pathspace(marker.parent.name):
            pathspaces.add(marker.parent.name)
    for ps in pathspaces:
        shutil.rmtree(etc / ps, ignore_errors=True)
        shutil.rmtree(names.frr_sock("x").parent / ps, ignore_errors=True)
    if state is None or state.user_created:
        try:
            if pwd.getpwnam(names.user).pw_gecos == names.user_comment:
                _retry_locked("userdel", names.user)
        except (KeyError, LabError):
            pass
    shutil.rmtree(names.run_dir, ignore_errors=True)


def _lab_processes(names) -> list[int]:
    """Processes whose command line names this lab's run directory (every daemon the lab starts does:
    pid files, configs, logs); another lab's directory (/run/netha-lab-x/) never matches."""
    mark = f"{names.run_dir}/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if mark in cmd:
            found.append(int(entry.name))
    return found


# -- inspection and use ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStatus:
    name: str
    role: str
    namespace: str
    present: bool
    daemons: dict[str, int | None]
    addresses: list[str]


def status(topology: Path | None = None, name: str | None = None) -> list[NodeStatus]:
    names = lab_names(name)
    state = LabState.load(names.name)
    if state is None:
        return []
    topo = load_topology(Path(topology or state.topology))
    have = set(existing_namespaces())
    result = []
    for node in topo.nodes.values():
        if node.kind != "linux":
            continue
        ns = names.netns(node.name)
        addrs: list[str] = []
        if ns in have:
            out = run("ip", "-n", ns, "-br", "-4", "addr", "show", check=False).stdout
            for line in out.splitlines():
                parts = line.split()
                if parts and parts[0] != "lo":
                    addrs += [f"{parts[0].split('@')[0]} {a}" for a in parts[2:]]
        result.append(NodeStatus(node.name, node.role, ns, ns in have, NodeDaemons(node, names).alive(), addrs))
    return result


def exec_in(node: str, argv: list[str], check: bool = False, name: str | None = None) -> int:
    """Run ``argv`` in NODE's namespace with the caller's stdio; returns its exit code."""
    names = lab_names(name)
    if names.netns(node) not in existing_namespaces():
        raise LabError(f"no node {node!r} in lab {names.name} (is the lab up? `netha lab status`)")
    r = subprocess.run(["ip", "netns", "exec", names.netns(node), *argv])
    if check and r.returncode:
        raise LabError(f"{' '.join(argv)} in {node} exited {r.returncode}")
    return r.returncode


def notification_sinks(topo) -> list[str]:
    """Where the routers' snmpd sends SNMP notifications (issue 14): every controller's management
    address; none in the scaled lab, where 100 snmpd watching their interfaces every second would load
    the machine its benchmark measures."""
    if topo.name.startswith("netha-scale"):
        return []
    return [str(n.mgmt_ipv4) for n in topo.of_role("controller") if n.mgmt_ipv4 is not None]


def node_daemons(node: str, name: str | None = None) -> NodeDaemons:
    names = lab_names(name)
    state = LabState.load(names.name)
    if state is None:
        raise LabError(f"the lab {names.name} is not up")
    topo = load_topology(Path(state.topology))
    if node not in topo.nodes:
        raise LabError(f"no lab node {node!r}")
    return NodeDaemons(topo.nodes[node], names, notify=notification_sinks(topo))


def labs() -> list[str]:
    """The labs on this host: those with namespaces, and those with a run directory."""
    found = labs_present(existing_namespaces())
    for d in DEFAULT_RUN_DIR.parent.glob(f"{DEFAULT_RUN_DIR.name}*"):
        if d.name == DEFAULT_RUN_DIR.name:
            found.add(LabNames().name)
        elif d.name.startswith(f"{DEFAULT_RUN_DIR.name}-"):
            try:
                found.add(LabNames(d.name[len(DEFAULT_RUN_DIR.name) + 1:]).name)
            except LabError:
                pass
    return sorted(found)
