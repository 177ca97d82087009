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
    assert set(t.bridges) == {"lan", "uplink", "lan2", "klan", "kup"}
    assert {n.name for n in t.of_role("keepalived-router")} == {"k1", "k2"}
    assert str(t.nodes["r1"].mgmt_ipv4) == "198.18.0.11"
    assert any(l.node == "ctl" and l.bridge == "lan" for l in t.links)


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
