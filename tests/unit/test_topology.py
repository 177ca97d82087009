"""containerlab topology parsing: the shipped files, and a clear error for what the netns lab cannot build."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netha.errors import TopologyError
from netha.lab.generate import generate
from netha.lab.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_lab_parses():
    t = load_topology(ROOT / "lab" / "netha.clab.yml")
    assert {n.name for n in t.of_role("frr-router")} == {"r1", "r2"}
    assert set(t.bridges) == {"lan", "uplink", "lan2", "klan", "kup", "isp1net", "isp2net", "far1", "far2"}
    assert {n.name for n in t.of_role("keepalived-router")} == {"k1", "k2"}
    assert str(t.nodes["r1"].mgmt_ipv4) == "198.18.0.11"
    assert any(l.node == "ctl" and l.bridge == "lan" for l in t.links)


def _addrs(node) -> set[str]:
    """The node's IPv4 addresses (the IPv6 ones: :func:`_addrs6`)."""
    return {c.split()[3] for c in node.exec if c.startswith("ip addr add ") and ":" not in c.split()[3]}


def _addrs6(node) -> set[str]:
    return {c.split()[3] for c in node.exec if c.startswith("ip addr add ") and ":" in c.split()[3]}


def _routes6(node) -> set[str]:
    return {c[len("ip -6 route add "):] for c in node.exec if c.startswith("ip -6 route add ")}


def _routes(node) -> set[str]:
    return {c[len("ip route add "):] for c in node.exec if c.startswith("ip route add ")}


def test_shipped_lab_has_a_dual_isp_upstream_beyond_the_next_hop():
    t = load_topology(ROOT / "lab" / "netha.clab.yml")
    seg = {(l.node, l.iface): l.bridge for l in t.links}
    assert {seg[("isp1", "eth1")], seg[("r1", "eth4")], seg[("k1", "eth3")]} == {"isp1net"}
    assert {seg[("isp2", "eth1")], seg[("r2", "eth4")], seg[("k2", "eth3")]} == {"isp2net"}
    assert (seg[("isp1", "eth2")], seg[("far", "eth1")]) == ("far1", "far1")
    assert (seg[("isp2", "eth2")], seg[("far", "eth2")]) == ("far2", "far2")
    n = t.nodes
    assert {"198.18.6.2/24", "198.18.1.2/24"} <= _addrs(n["r1"]) and "198.18.7.2/24" in _addrs(n["r2"])
    assert "198.18.6.3/24" in _addrs(n["k1"]) and "198.18.7.3/24" in _addrs(n["k2"])
    assert _addrs(n["isp1"]) == {"198.18.6.1/24", "198.18.8.1/24"}
    assert _addrs(n["far"]) == {"198.18.10.100/32", "198.18.8.100/24", "198.18.9.100/24"}
    for node, isp in (("r1", "6"), ("k1", "6"), ("r2", "7"), ("k2", "7")):
        assert f"198.18.10.0/24 via 198.18.{isp}.1" in _routes(n[node]), node
    assert _routes(n["isp1"]) == {"198.18.1.0/24 via 198.18.6.2", "198.18.4.0/24 via 198.18.6.3",
                                  "198.18.10.0/24 via 198.18.8.100"}
    assert _routes(n["isp2"]) == {"198.18.1.0/24 via 198.18.7.2", "198.18.4.0/24 via 198.18.7.3",
                                  "198.18.10.0/24 via 198.18.9.100"}
    far = _routes(n["far"])
    for lan in ("198.18.1.0/24", "198.18.4.0/24"):
        assert {f"{lan} via 198.18.8.1 metric 10", f"{lan} via 198.18.9.1 metric 20"} <= far
    assert "sysctl -qw net.ipv4.conf.all.ignore_routes_with_linkdown=1" in n["far"].exec
    for isp in ("isp1", "isp2"):
        assert "sysctl -qw net.ipv4.ip_forward=1" in n[isp].exec and n[isp].role == "host"


def test_frr_routers_let_root_in_by_key_and_the_lab_user_into_vtysh():
    for node in ("r1", "r2"):
        text = (ROOT / "lab" / "configs" / node / "sshd_config").read_text()
        lines = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        assert ["PermitRootLogin", "prohibit-password"] in lines
        assert ["AllowUsers", "netha-lab", "root"] in lines
        i = lines.index(["Match", "User", "netha-lab"])
        assert lines[i + 1] == ["ForceCommand", "/usr/bin/vtysh", "-N", node]
        assert "AuthorizedKeysFile" not in {l[0] for l in lines}  # `netha lab up` sets the lab's own file
        assert ["PasswordAuthentication", "no"] == lines[lines.index(["Match", "User", "root"]) + 1]


def test_keepalived_topology_parses():
    t = load_topology(ROOT / "lab" / "keepalived.clab.yml")
    assert {n.name for n in t.of_role("keepalived-router")} == {"k1", "k2"}


def test_generated_scale_topology_parses(tmp_path):
    topo, inv = generate(3, tmp_path)
    t = load_topology(topo)
    assert len(t.of_role("frr-router")) == 6 and len(t.bridges) == 3


def _write(tmp_path, doc) -> Path:
    p = tmp_path / "t.clab.yml"
    p.write_text(yaml.safe_dump(doc))
    return p


BASE = {"name": "x", "topology": {"nodes": {"a": {"kind": "linux"}, "br": {"kind": "bridge"}},
                                  "links": [{"endpoints": ["a:eth1", "br:a-eth1"]}]}}


@pytest.mark.parametrize("change,message", [
    (lambda d: d["topology"]["nodes"].update(s={"kind": "srl"}), "unsupported kind 'srl'"),
    (lambda d: d["topology"]["nodes"]["a"].update(ports=["80:80"]), "unsupported keys ['ports']"),
    (lambda d: d["topology"]["links"].append({"type": "veth", "endpoints": []}), "only the 'endpoints"),
    (lambda d: d["topology"]["links"].append({"endpoints": ["a:eth2", "b:eth1"]}), "unknown node 'b'"),
    (lambda d: d["topology"]["nodes"].update(b={"kind": "linux"}) or d["topology"]["links"].append(
        {"endpoints": ["a:eth2", "b:eth1"]}), "node-to-bridge links only"),
    (lambda d: d["topology"]["nodes"]["a"].update(exec=["ip addr add 10.0.0.1/24 dev eth1"]), "outside 198.18.0.0/15"),
    (lambda d: d["topology"]["nodes"]["a"].update(exec=["rm -rf /"]), "only 'ip' and 'sysctl'"),
    (lambda d: d.update(mgmt={"ipv4-subnet": "192.0.2.0/24"}), "outside 198.18.0.0/15"),
    (lambda d: d["topology"]["links"].append({"endpoints": ["a:eth1", "br:a-eth9"]}), "used by two links"),
])
def test_unsupported_constructs_name_file_and_place(tmp_path, change, message):
    import copy

    doc = copy.deepcopy(BASE)
    change(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_shipped_lab_has_ipv6_from_the_benchmarking_prefix_beside_ipv4():
    """Issue 16: 2001:2:0:N::/64 mirrors 198.18.N.0/24; each pair runs one IPv6 VRRPv3 group per segment
    (FRR on its own macvlan with the IPv6 virtual MAC), and the hosts route through the IPv6 gateway."""
    import ipaddress

    t = load_topology(ROOT / "lab" / "netha.clab.yml")
    n = t.nodes
    lab6 = ipaddress.IPv6Network("2001:2::/48")
    for node in n.values():
        for a in _addrs6(node):
            assert ipaddress.IPv6Interface(a).network.subnet_of(lab6), (node.name, a)
    assert {"2001:2:0:1::2/64", "2001:2:0:2::2/64", "2001:2:0:6::2/64", "2001:2:0:1::1/128"} <= _addrs6(n["r1"])
    assert {"2001:2:0:1::3/64", "2001:2:0:2::3/64", "2001:2:0:7::2/64", "2001:2:0:2::1/128"} <= _addrs6(n["r2"])
    assert {"2001:2:0:4::2/64", "2001:2:0:5::2/64"} <= _addrs6(n["k1"])
    assert "2001:2:0:2::100/64" in _addrs6(n["wan"]) and "2001:2:0:5::100/64" in _addrs6(n["wan"])
    assert "2001:2:0:a::100/128" in _addrs6(n["far"])
    for host, gw in (("h1", "2001:2:0:1::1"), ("h3", "2001:2:0:4::1"), ("wan", "2001:2:0:2::1")):
        assert f"ip -6 route replace default via {gw}" in n[host].exec, host
    for r in ("r1", "r2"):
        assert "ip link set eth1-v21 address 00:00:5e:00:02:15 addrgenmode random" in n[r].exec
        assert "ip link set eth2-v22 address 00:00:5e:00:02:16 addrgenmode random" in n[r].exec
    assert "2001:2:0:a::/64 via 2001:2:0:6::1" in _routes6(n["r1"]) and "2001:2:0:a::/64 via 2001:2:0:7::1" in _routes6(n["r2"])
    frr = (ROOT / "lab" / "configs" / "r1" / "frr.conf").read_text()
    assert " vrrp 21 ipv6 2001:2:0:1::1" in frr and " vrrp 22 ipv6 2001:2:0:2::1" in frr
    ka = (ROOT / "lab" / "configs" / "k1" / "keepalived.conf").read_text()
    assert "fe80::200:5eff:fe00:21f/64\n        2001:2:0:4::1/64" in ka  # the link-local virtual address first


def test_an_ipv6_address_outside_the_lab_prefix_is_refused(tmp_path):
    (tmp_path / "lab.yml").write_text(
        "name: x\ntopology:\n  nodes:\n    h1:\n      kind: linux\n      exec:\n"
        "        - ip addr add 2001:db8::1/64 dev eth1\n"
    )
    with pytest.raises(TopologyError, match="outside 2001:2::/48"):
        load_topology(tmp_path / "lab.yml")
    # Link-local addresses and MAC addresses are not lab addresses to check.
    (tmp_path / "ok.yml").write_text(
        "name: x\ntopology:\n  nodes:\n    h1:\n      kind: linux\n      exec:\n"
        "        - ip addr add fe80::1/64 dev eth1\n        - ip link set eth1 address 00:00:5e:00:02:15\n"
    )
    assert load_topology(tmp_path / "ok.yml").nodes["h1"].exec
