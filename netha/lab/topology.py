"""Parse a containerlab topology into what the netns builder supports (pure, no I/O beyond reading)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import TopologyError

NODE_KINDS = ("linux", "bridge")
ROLES = ("frr-router", "host", "controller", "keepalived-router", "etcd")
# Files a bind may bring in, and what the netns builder does with each.
KNOWN_BIND_TARGETS = {
    "/etc/frr/frr.conf": "frr",
    "/etc/frr/daemons": "frr-daemons",
    "/etc/ssh/sshd_config": "sshd",
    "/etc/snmp/snmpd.conf": "snmpd",
    "/etc/keepalived/keepalived.conf": "keepalived",
}
_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_IFACE = re.compile(r"^eth[1-9][0-9]?$")
_BRIDGE_PORT = re.compile(r"^[a-z0-9][a-z0-9-]{0,14}$")
_SUPPORTED_NODE_KEYS = {"kind", "image", "mgmt-ipv4", "binds", "exec", "labels"}


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # linux | bridge
    role: str  # frr-router | host | controller | keepalived-router | bridge
    mgmt_ipv4: ipaddress.IPv4Address | None = None
    binds: dict[str, Path] = field(default_factory=dict)  # target path in the container -> host file
    exec: tuple[str, ...] = ()
    cluster: tuple[tuple[str, str], ...] = ()  # an etcd member's cluster: (member name, management address)


@dataclass(frozen=True)
class Link:
    node: str
    iface: str  # inside the node (eth1...)
    bridge: str
    port: str  # the bridge-side interface name


@dataclass(frozen=True)
class Topology:
    name: str
    path: Path
    mgmt_subnet: ipaddress.IPv4Network | None
    nodes: dict[str, Node]
    links: tuple[Link, ...]

    @property
    def bridges(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.kind == "bridge"]

    def of_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == role]


def _err(path: Path, where: str, msg: str) -> TopologyError:
    return TopologyError(f"{path}: {where}: {msg}")


def load_topology(path: Path) -> Topology:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TopologyError(f"{path}: YAML error: {exc}") from None
    if not isinstance(doc, dict) or "topology" not in doc:
        raise TopologyError(f"{path}: not a containerlab topology (no 'topology' key)")
    name = str(doc.get("name", "lab"))
    mgmt = doc.get("mgmt") or {}
    subnet = None
    if "ipv4-subnet" in mgmt:
        subnet = _net(path, "mgmt.ipv4-subnet", mgmt["ipv4-subnet"])
    topo = doc["topology"] or {}
    unknown_top = set(topo) - {"kinds", "nodes", "links", "defaults"}
    if unknown_top:
        raise _err(path, "topology", f"unsupported keys {sorted(unknown_top)}")
    nodes: dict[str, Node] = {}
    for nname, spec in (topo.get("nodes") or {}).items():
        nodes[nname] = _node(path, str(nname), spec or {}, subnet)
    links = []
    used: set[tuple[str, str]] = set()
    for i, link in enumerate(topo.get("links") or []):
        links.append(_link(path, i, link, nodes, used))
    topo = Topology(name, path, subnet, nodes, tuple(links))
    return with_ha(topo) if name == HA_TOPOLOGY else topo


# The default lab (lab/netha.clab.yml, `name: netha`) also runs what several controllers need (issue 17,
# docs/ha.md): a second controller namespace `ctl2` with listener legs on every segment `ctl` has, and
# a 3-member etcd cluster (Debian's etcd-server) in namespaces of its own on the management segment.
# They are added here, not in the containerlab file: its nodes need images, and these run Debian's
# binaries in namespaces only (`netha lab up`).
HA_TOPOLOGY = "netha"
HA_CONTROLLER = ("ctl2", "198.18.0.2")
HA_ETCD = (("etcd1", "198.18.0.31"), ("etcd2", "198.18.0.32"), ("etcd3", "198.18.0.33"))


def with_ha(topo: Topology) -> Topology:
    """``topo`` with a second controller beside ``ctl`` and the etcd members (unless present)."""
    ctl = topo.nodes.get("ctl")
    if ctl is None or ctl.role != "controller" or topo.mgmt_subnet is None:
        return topo
    nodes, links = dict(topo.nodes), list(topo.links)
    name, addr = HA_CONTROLLER
    if name not in nodes:
        nodes[name] = Node(name, "linux", "controller", ipaddress.IPv4Address(addr), {}, ctl.exec)
        links += [Link(name, ln.iface, ln.bridge, f"{name}-{ln.iface}") for ln in topo.links if ln.node == "ctl"]
    for member, ip in HA_ETCD:
        if member not in nodes:
            nodes[member] = Node(member, "linux", "etcd", ipaddress.IPv4Address(ip), cluster=HA_ETCD)
    for node in nodes.values():
        if node.mgmt_ipv4 is not None and node.mgmt_ipv4 not in topo.mgmt_subnet:
            raise _err(topo.path, f"node {node.name}", f"mgmt-ipv4 {node.mgmt_ipv4} is not in {topo.mgmt_subnet}")
    return Topology(topo.name, topo.path, topo.mgmt_subnet, nodes, tuple(links))


def _net(path: Path, where: str, value: object) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(str(value))
    except ValueError:
        raise _err(path, where, f"invalid IPv4 subnet {value!r}") from None
    _check_range(path, where, net)
    return net


def _check_range(path: Path, where: str, net: ipaddress.IPv4Network) -> None:
    if not net.subnet_of(ipaddress.IPv4Network("198.18.0.0/15")):
        raise _err(path, where, f"{net} is outside 198.18.0.0/15, the only range the lab may use")


LAB_IPV6 = ipaddress.IPv6Network("2001:2::/48")  # RFC 5180's benchmarking prefix: the lab's IPv6 range


def _check_range6(path: Path, where: str, word: str) -> None:
    """An IPv6 address or prefix in an exec line must be in :data:`LAB_IPV6` (link-local ones are every
    link's own; words that are no IPv6 address, such as MAC addresses, are not addresses)."""
    try:
        net = ipaddress.IPv6Interface(word).network
    except ValueError:
        return
    if net.network_address.is_link_local or net.network_address.is_multicast:
        return
    if not net.subnet_of(LAB_IPV6):
        raise _err(path, where, f"{word} is outside {LAB_IPV6}, the only IPv6 range the lab may use")


def _node(path: Path, name: str, spec: dict, subnet: ipaddress.IPv4Network | None) -> Node:
    where = f"node {name}"
    if not _NAME.match(name):
        raise _err(path, where, "node names are 1-10 lowercase letters and digits, starting with a letter")
    unknown = set(spec) - _SUPPORTED_NODE_KEYS
    if unknown:
        raise _err(path, where, f"unsupported keys {sorted(unknown)} (netns lab supports {sorted(_SUPPORTED_NODE_KEYS)})")
    kind = spec.get("kind", "linux")
    if kind not in NODE_KINDS:
        raise _err(path, where, f"unsupported kind {kind!r} (netns lab supports {', '.join(NODE_KINDS)})")
    if kind == "bridge":
        if set(spec) - {"kind", "labels"}:
            raise _err(path, where, "a bridge takes no binds, exec or mgmt address")
        return Node(name, "bridge", "bridge")
    labels = spec.get("labels") or {}
    role = labels.get("netha.role")
    binds: dict[str, Path] = {}
    for b in spec.get("binds") or []:
        parts = str(b).split(":")
        if len(parts) < 2:
            raise _err(path, where, f"bind {b!r} is not SOURCE:TARGET")
        src, target = parts[0], parts[1]
        if target not in KNOWN_BIND_TARGETS:
            raise _err(path, where, f"bind target {target} is not one the netns lab understands ({', '.join(KNOWN_BIND_TARGETS)})")
        host = (path.parent / src).resolve()
        if not host.is_file():
            raise _err(path, where, f"bind source {src} does not exist")
        binds[target] = host
    if role is None:
        role = "frr-router" if "/etc/frr/frr.conf" in binds else "host"
    if role not in ROLES:
        raise _err(path, where, f"unknown netha.role {role!r} ({', '.join(ROLES)})")
    mgmt = None
    if "mgmt-ipv4" in spec:
        try:
            mgmt = ipaddress.IPv4Address(str(spec["mgmt-ipv4"]))
        except ValueError:
            raise _err(path, where, f"invalid mgmt-ipv4 {spec['mgmt-ipv4']!r}") from None
        if subnet is None or mgmt not in subnet:
            raise _err(path, where, f"mgmt-ipv4 {mgmt} is not in the mgmt ipv4-subnet {subnet}")
    execs = tuple(str(e) for e in spec.get("exec") or [])
    for e in execs:
        argv0 = e.split()[0] if e.split() else ""
        if argv0 not in ("ip", "sysctl"):
            raise _err(path, where, f"exec {e!r}: only 'ip' and 'sysctl' commands are supported")
        for addr in re.findall(r"\b(\d+\.\d+\.\d+\.\d+)(?:/\d+)?\b", e):
            _check_range(path, f"{where} exec", ipaddress.IPv4Network(addr))
        for word in e.split():
            if ":" in word:
                _check_range6(path, f"{where} exec", word)
    return Node(name, "linux", role, mgmt, binds, execs)


def _link(path: Path, i: int, link: object, nodes: dict[str, Node], used: set) -> Link:
    where = f"link {i + 1}"
    if not isinstance(link, dict) or set(link) != {"endpoints"} or not isinstance(link["endpoints"], list):
        raise _err(path, where, "only the 'endpoints: [a:ifa, b:ifb]' link form is supported")
    eps = link["endpoints"]
    if len(eps) != 2 or not all(isinstance(e, str) and e.count(":") == 1 for e in eps):
        raise _err(path, where, f"endpoints must be two 'node:interface' strings, got {eps!r}")
    (n1, i1), (n2, i2) = (e.split(":") for e in eps)
    for n in (n1, n2):
        if n not in nodes:
            raise _err(path, where, f"unknown node {n!r}")
    kinds = (nodes[n1].kind, nodes[n2].kind)
    if kinds == ("bridge", "linux"):
        (n1, i1), (n2, i2) = (n2, i2), (n1, i1)
    elif kinds != ("linux", "bridge"):
        raise _err(path, where, "the netns lab supports node-to-bridge links only (put a bridge between two nodes)")
    if not _IFACE.match(i1):
        raise _err(path, where, f"node interface {i1!r} must be eth1..eth99 (eth0 is management)")
    if not _BRIDGE_PORT.match(i2):
        raise _err(path, where, f"bridge port name {i2!r} is not a valid interface name")
    for key in ((n1, i1), (n2, i2)):
        if key in used:
            raise _err(path, where, f"{key[0]}:{key[1]} is used by two links")
        used.add(key)
    return Link(n1, i1, n2, i2)
