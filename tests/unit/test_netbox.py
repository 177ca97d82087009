"""NetBox import and drift check against a real HTTP server serving NetBox API responses.

The server (http.server in a thread, on 127.0.0.1) answers like NetBox's REST API does: list endpoints
with `count`/`next`/`previous`/`results` and offset pagination (a page size of 2, so every list takes
several pages and pynetbox must follow `next` links), the filters of NetBox's filtersets (ipam/filtersets.py,
dcim/filtersets.py: `tag`, `id`, `group_id`, `device_id`, `virtual_machine_id`, `interface_id`,
`vminterface_id`, `site`; an unknown one is a 400 here so that a misspelt filter fails the test), and
NetBox's token check (netbox/api/authentication.py: `Token <t>` or `Bearer <t>`; without a valid one
NetBox answers 403, as its docs say; docs/integrations/rest-api.md). The objects are in
tests/unit/fixtures/netbox/*.json, in the shapes of NetBox's own serializers (make_fixtures.py there
names the sources). No pynetbox mock: pynetbox talks HTTP to the server.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from netha.cli.main import app
from netha.connect import load_checked_inventory, supported_protocols
from netha.errors import InventoryError
from netha.inventory.netbox import NetboxError, NetboxReader, build, load_overlay, parse_filters, parse_token_ref
from netha.inventory.platform_map import map_platform

FIX = Path(__file__).parent / "fixtures" / "netbox"
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a v1 token's shape (40 hex digits); a test value
V2_TOKEN = "nbt_4F9DAouzURLb.zjebxBPzICiPbWz0Wtx0fTL7bCKXKGTYhNzkgC2S"  # NetBox 4.5's v2 shape (its docs' example)
runner = CliRunner()

ENDPOINTS = {
    "/api/ipam/fhrp-groups/": "fhrp-groups.json",
    "/api/ipam/fhrp-group-assignments/": "fhrp-group-assignments.json",
    "/api/dcim/devices/": "devices.json",
    "/api/virtualization/virtual-machines/": "virtual-machines.json",
    "/api/ipam/ip-addresses/": "ip-addresses.json",
}


def _itf_owner(obj: dict[str, Any], key: str) -> Any:
    itf = obj.get("interface") or {}
    return (itf.get(key) or {}).get("id")


FILTERS = {
    "id": lambda o: o["id"],
    "tag": lambda o: [t["slug"] for t in o.get("tags", [])],
    "group_id": lambda o: o["group"]["id"],
    "device_id": lambda o: _itf_owner(o, "device") if o.get("interface_type") == "dcim.interface" else None,
    "virtual_machine_id": lambda o: _itf_owner(o, "virtual_machine")
    if o.get("interface_type") == "virtualization.vminterface" else None,
    "site": lambda o: o["site"]["slug"],
    "interface_id": lambda o: o["assigned_object_id"] if o.get("assigned_object_type") == "dcim.interface" else None,
    "vminterface_id": lambda o: o["assigned_object_id"]
    if o.get("assigned_object_type") == "virtualization.vminterface" else None,
}


class NetboxServer:
    """NetBox's REST API for the fixture objects. ``fail`` makes one path answer an error."""

    page_size = 5  # NetBox's MAX_PAGE_SIZE here: every list the import reads takes several pages

    def __init__(self) -> None:
        self.data = {path: json.loads((FIX / name).read_text()) for path, name in ENDPOINTS.items()}
        self.requests: list[tuple[str, str, str | None]] = []  # (path, query, authorization)
        self.fail: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as NetBox behind gunicorn/nginx

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("API-Version", "4.4")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                parts = urllib.parse.urlsplit(self.path)
                auth = self.headers.get("Authorization")
                server.requests.append((parts.path, parts.query, auth))
                if auth is None:
                    return self._send(403, {"detail": "Authentication credentials were not provided."})
                if auth not in (f"Token {TOKEN}", f"Bearer {V2_TOKEN}"):
                    return self._send(403, {"detail": "Invalid v1 token"})
                if parts.path in server.fail:
                    code = server.fail[parts.path]
                    return self._send(code, f"<h1>Server Error ({code})</h1>", "text/html")
                if parts.path == "/api/":
                    return self._send(200, {"ipam": "/api/ipam/"})
                objects = server.data.get(parts.path)
                if objects is None:
                    return self._send(404, {"detail": "Not found."})
                query = urllib.parse.parse_qs(parts.query)
                limit = int(query.pop("limit", [str(self.server_page())])[0]) or server.page_size
                limit = min(limit, server.page_size)  # MAX_PAGE_SIZE
                offset = int(query.pop("offset", ["0"])[0])
                query.pop("brief", None)
                for key, values in query.items():
                    if key not in FILTERS:
                        return self._send(400, {"detail": f"unknown filter {key}"})
                    objects = [o for o in objects if _matches(FILTERS[key](o), values)]
                page = objects[offset:offset + limit]
                base = f"http://{self.headers['Host']}{parts.path}"

                def link(off: int) -> str:
                    q = [(k, v) for k, vs in query.items() for v in vs] + [("limit", limit), ("offset", off)]
                    return f"{base}?{urllib.parse.urlencode(q)}"

                self._send(200, {
                    "count": len(objects),
                    "next": link(offset + limit) if offset + limit < len(objects) else None,
                    "previous": link(max(offset - limit, 0)) if offset > 0 else None,
                    "results": page,
                })

            def server_page(self) -> int:
                return server.page_size

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def objects(self, endpoint: str) -> list[dict[str, Any]]:
        return self.data[f"/api/{endpoint}/"]

    def __enter__(self) -> NetboxServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _matches(value: Any, wanted: list[str]) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(str(v) in wanted for v in values if v is not None)


@pytest.fixture
def netbox(monkeypatch) -> Iterator[NetboxServer]:
    monkeypatch.setenv("NETBOX_TEST_TOKEN", TOKEN)
    monkeypatch.delenv("NETBOX_TOKEN", raising=False)
    monkeypatch.delenv("NETBOX_URL", raising=False)
    with NetboxServer() as server:
        yield server


def _import(netbox: NetboxServer, tmp_path: Path, *extra: str) -> tuple[Any, Path]:
    out = tmp_path / "from-netbox.yml"
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", "{env: NETBOX_TEST_TOKEN}",
                            "--out", str(out), *extra])
    return r, out


OVERLAY = """
credentials:
  netops:
    username: {env: NETHA_NET_USER}
    password: {env: NETHA_NET_PASSWORD}
snmp:
  campus-v3: {version: "3", user: netha-ro, auth_key: {env: NETHA_SNMP_AUTH}, priv_key: {env: NETHA_SNMP_PRIV}}
device_defaults: {credentials: netops, snmp: campus-v3}
defaults:
  policy: {failback: hold_down, hold_down: 120}
groups:
  users-vlan10:
    track:
      - {route: 0.0.0.0/0, description: default route from core}
    policy: {failback: manual}
  internet-edge:
    track:
      - {interface: ge-0/0/0.0, description: ISP uplink}
"""


# -- the import ------------------------------------------------------------------------------------------

def test_import_writes_an_inventory_that_netha_validate_accepts(netbox, tmp_path, monkeypatch):
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("NETHA_USERNAME", "u")
    monkeypatch.setenv("NETHA_PASSWORD", "p")
    v = runner.invoke(app, ["validate", "-i", str(out)])
    assert v.exit_code == 0, v.output + out.read_text()
    assert "ok (8 devices, 6 groups)" in v.output


def test_import_maps_vrrp3_vrrp2_and_hsrp_members_priorities_and_addresses(netbox, tmp_path):
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    g = doc["groups"]
    assert sorted(g) == ["internet-edge", "lb-vip", "servers-vlan100", "users-vlan10", "voice-hsrp", "vrrp3-20"]
    users = g["users-vlan10"]
    assert (users["protocol"], users["version"], users["vrid"], users["interface"]) == ("vrrp", 3, 10, "Vlan10")
    assert users["virtual_addresses"] == ["198.19.10.1/24"]
    assert users["members"] == [
        {"device": "dist1-bldg-a", "priority": 120, "address": "198.19.10.2/24"},
        {"device": "dist2-bldg-a", "priority": 110, "address": "198.19.10.3/24"},
    ]
    assert (g["servers-vlan100"]["protocol"], g["servers-vlan100"]["version"]) == ("vrrp", 2)  # 'servers vlan100'
    assert g["voice-hsrp"]["protocol"] == "hsrp" and "version" not in g["voice-hsrp"]
    assert g["vrrp3-20"]["vrid"] == 20  # an unnamed group is named after its protocol and ID
    assert g["lb-vip"]["members"][0] == {"device": "lb1", "priority": 150, "address": "198.19.60.2/24"}  # a VM
    dev = doc["devices"]
    assert dev["dist1-bldg-a"] == {"host": "198.19.255.1", "platform": "cisco_xe", "credentials": "netbox-default"}
    assert (dev["leaf1-dc"]["platform"], dev["edge1"]["platform"], dev["lb2"]["platform"]) == (
        "arista_eos", "juniper_junos", "keepalived")


def test_import_follows_next_links_across_pages(netbox, tmp_path):
    netbox.page_size = 2
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    group_pages = [q for p, q, _a in netbox.requests if p == "/api/ipam/fhrp-groups/"]
    assert len(netbox.objects("ipam/fhrp-groups")) == 8
    assert len(group_pages) == 4  # 8 groups, 2 a page: the first page, then 3 `next` links
    assert "offset=6" in group_pages[-1]


def test_every_request_carries_the_token_header(netbox, tmp_path):
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    assert netbox.requests and {a for _p, _q, a in netbox.requests} == {f"Token {TOKEN}"}


def test_glbp_and_carp_groups_are_reported_and_left_out(netbox, tmp_path):
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    assert "NetBox FHRP group 5 'users-glbp' (GLBP 30): skipped: netha manages VRRPv2, VRRPv3 and HSRP groups, not GLBP" in r.output
    assert "NetBox FHRP group 8 'fw-carp' (CARP 5): skipped:" in r.output
    text = out.read_text()
    assert "# Skipped NetBox FHRP group 5 'users-glbp'" in text and "users-glbp:" not in text


def test_tracks_and_policy_come_from_custom_field_config_context_and_overlay(netbox, tmp_path):
    overlay = tmp_path / "overlay.yml"
    overlay.write_text(OVERLAY)
    r, out = _import(netbox, tmp_path, "--overlay", str(overlay))
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    users = doc["groups"]["users-vlan10"]
    # custom field `netha` on the FHRP group, then the overlay's (which wins on policy)
    assert users["track"] == [
        {"interface": "TenGigabitEthernet1/1/1", "description": "uplink to core"},
        {"route": "0.0.0.0/0", "description": "default route from core"},
    ]
    assert users["policy"] == {"failback": "manual"}
    # config context `netha` of each leaf: a tracked object on that device only
    assert doc["groups"]["servers-vlan100"]["track"] == [
        {"interface": "Ethernet49/1", "description": "spine uplink", "device": "leaf1-dc"},
        {"interface": "Ethernet49/1", "description": "spine uplink", "device": "leaf2-dc"},
    ]
    assert doc["devices"]["edge1"]["credentials"] == "netops" and doc["devices"]["edge1"]["snmp"] == "campus-v3"
    assert doc["defaults"] == {"policy": {"failback": "hold_down", "hold_down": 120}}
    assert "netbox-default" not in doc["credentials"]


def test_the_overlay_is_never_written(netbox, tmp_path):
    overlay = tmp_path / "overlay.yml"
    overlay.write_text(OVERLAY)
    before = overlay.read_bytes(), overlay.stat().st_mtime_ns
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", "{env: NETBOX_TEST_TOKEN}",
                            "--overlay", str(overlay), "--out", str(overlay)])
    assert r.exit_code == 2 and "the import never writes the overlay" in r.output
    r2, _out = _import(netbox, tmp_path, "--overlay", str(overlay))
    assert r2.exit_code == 0, r2.output
    assert (overlay.read_bytes(), overlay.stat().st_mtime_ns) == before


def test_a_hand_written_inventory_is_not_overwritten_without_force(netbox, tmp_path):
    out = tmp_path / "from-netbox.yml"
    out.write_text("# our campus, by hand\ndevices: {}\n")
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 2 and "was not written by `netha inventory from-netbox`" in r.output
    assert out.read_text() == "# our campus, by hand\ndevices: {}\n"
    r, _out = _import(netbox, tmp_path, "--force")
    assert r.exit_code == 0, r.output
    r, _out = _import(netbox, tmp_path)  # its own output is replaced without --force
    assert r.exit_code == 0, r.output


def test_the_token_is_never_written_nor_printed(netbox, tmp_path):
    r, out = _import(netbox, tmp_path, "--json")
    assert r.exit_code == 0, r.output
    assert TOKEN not in out.read_text() and TOKEN not in r.output
    r2 = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", "{env: NETBOX_TEST_TOKEN}"])
    assert r2.exit_code == 0 and TOKEN not in r2.output and "groups:" in r2.output


def test_a_v2_token_goes_in_a_bearer_header(netbox, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBOX_TEST_TOKEN", V2_TOKEN)
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    assert {a for _p, _q, a in netbox.requests} == {f"Bearer {V2_TOKEN}"}
    assert V2_TOKEN not in out.read_text() and "nbt_" not in r.output


def test_a_literal_token_is_refused(netbox, tmp_path):
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", TOKEN])
    assert r.exit_code == 2
    assert "--token takes a reference, never the token itself" in r.output and TOKEN not in r.output
    assert netbox.requests == []


def test_a_token_file_must_be_private(netbox, tmp_path):
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o644)
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", f"{{file: {f}}}"])
    assert r.exit_code == 2 and "readable by group or others" in r.output
    f.chmod(0o600)
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", f"file:{f}", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["groups"]["users-vlan10"]["netbox_id"] == 1


def test_without_a_token_netbox_refuses_with_one_line(netbox):
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url])
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert lines == [f"error: NetBox at {netbox.url} refused FHRP groups without a token (HTTP 403: Authentication "
                     "credentials were not provided.): give --token"]
    assert netbox.requests[0][2] is None


def test_a_wrong_token_is_one_line_without_the_token(netbox, monkeypatch):
    monkeypatch.setenv("NETBOX_TEST_TOKEN", "f" * 40)
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url, "--token", "{env: NETBOX_TEST_TOKEN}"])
    assert r.exit_code == 1
    assert r.output.strip() == (f"error: NetBox at {netbox.url} refused the token (HTTP 403: Invalid v1 token) "
                                "reading FHRP groups")


def test_a_proxy_answering_401_is_a_refused_token(netbox, tmp_path):
    netbox.fail["/api/ipam/fhrp-groups/"] = 401  # an authenticating reverse proxy in front of NetBox
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 1
    assert r.output.strip() == f"error: NetBox at {netbox.url} refused the token (HTTP 401) reading FHRP groups"


def test_the_same_netbox_gives_the_same_bytes(netbox, tmp_path):
    r1, out = _import(netbox, tmp_path)
    first = out.read_bytes()
    r2, out = _import(netbox, tmp_path)
    assert r1.exit_code == r2.exit_code == 0
    assert out.read_bytes() == first  # no timestamp: a committed import shows NetBox's changes in `git diff`
    assert b"- {device: dist1-bldg-a, priority: 120, address: 198.19.10.2/24}" in first


def test_a_server_error_is_one_line(netbox, tmp_path):
    netbox.fail["/api/ipam/fhrp-group-assignments/"] = 500
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 1
    assert r.output.strip() == (f"error: NetBox at {netbox.url} answered HTTP 500 Internal Server Error reading "
                                "FHRP group assignments")
    assert not out.exists()


def test_an_unreachable_netbox_is_one_line():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", f"http://127.0.0.1:{port}", "--token", "env:HOME"])
    assert r.exit_code == 1
    assert r.output.strip() == f"error: NetBox at http://127.0.0.1:{port} cannot be reached: connection refused"


def test_not_netbox_at_the_url_is_one_line(netbox):
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", netbox.url + "/elsewhere", "--token",
                            "{env: NETBOX_TEST_TOKEN}"])
    assert r.exit_code == 1
    assert r.output.strip() == (f"error: NetBox at {netbox.url}/elsewhere has no API for FHRP groups (HTTP 404): "
                                "is this NetBox's address (without /api)?")


def test_an_unknown_platform_is_an_error_naming_the_device(netbox, tmp_path):
    for d in netbox.objects("dcim/devices"):
        if d["name"] == "edge2":
            d["platform"] = {**d["platform"], "name": "Catalyst 9000", "slug": "catalyst-9k"}
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 2
    assert r.output.strip() == (
        "error: device edge2 (NetBox id 6): platform 'catalyst-9k' is not one netutils or netha knows; map it to one "
        "of arista_eos, cisco_ios, cisco_nxos, cisco_xe, frr, juniper_junos, keepalived (the overlay's `platforms:` "
        "maps a NetBox slug)")
    assert not out.exists()
    overlay = tmp_path / "overlay.yml"
    overlay.write_text("platforms: {catalyst-9k: juniper_junos}\n")
    r2, out2 = _import(netbox, tmp_path, "--overlay", str(overlay))
    assert r2.exit_code == 0, r2.output
    assert yaml.safe_load(out2.read_text())["devices"]["edge2"]["platform"] == "juniper_junos"


def test_two_netbox_devices_with_one_netha_name_are_an_error(netbox, tmp_path):
    for d in netbox.objects("dcim/devices"):
        if d["id"] == 2:
            d["name"] = d["display"] = "dist1 bldg-a"
    for a in netbox.objects("ipam/fhrp-group-assignments"):
        if a["interface"].get("device", {}).get("id") == 2:
            a["interface"]["device"]["name"] = "dist1 bldg-a"
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 2 and not out.exists()
    assert ("device dist1-bldg-a (NetBox id 1) and device dist1 bldg-a (NetBox id 2) both become the netha device "
            "'dist1-bldg-a': rename one in NetBox") in r.output


def test_an_answer_in_another_shape_is_one_line(netbox, tmp_path):
    for g in netbox.objects("ipam/fhrp-groups"):
        g["ip_addresses"] = [{"address": "not an address"}]
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 1
    assert r.output.startswith(f"error: NetBox at {netbox.url} answered in a shape netha does not know (ValueError")
    assert len(r.output.strip().splitlines()) == 1


def test_overlay_entries_that_match_nothing_are_noted(netbox, tmp_path):
    overlay = tmp_path / "overlay.yml"
    overlay.write_text("groups:\n  user-vlan10: {policy: {failback: manual}}\n")
    r, _out = _import(netbox, tmp_path, "--overlay", str(overlay))
    assert r.exit_code == 0, r.output
    assert "note: overlay groups.user-vlan10: no such group was imported from NetBox" in r.output


@pytest.mark.parametrize("slug, platform", [
    ("cisco-ios", "cisco_ios"), ("ios", "cisco_ios"), ("cisco-xe", "cisco_xe"), ("eos", "arista_eos"),
    ("arista-eos", "arista_eos"), ("junos", "juniper_junos"), ("nxos_ssh", "cisco_nxos"), ("cisco.ios.ios", "cisco_ios"),
    ("frr", "frr"), ("Keepalived", "keepalived"),
])
def test_netbox_platform_slugs_map_through_netutils(slug, platform):
    assert map_platform(slug, supported_protocols()) == platform


def test_a_device_without_a_primary_ip_is_an_error_naming_it(netbox, tmp_path):
    for d in netbox.objects("virtualization/virtual-machines"):
        if d["name"] == "lb1":
            d["primary_ip"] = d["primary_ip4"] = None
    r, _out = _import(netbox, tmp_path)
    assert r.exit_code == 2
    assert "virtual machine lb1 (NetBox id 7) has no primary IPv4 address in NetBox" in r.output


def test_filter_by_tag_takes_only_the_tagged_groups(netbox, tmp_path):
    r, out = _import(netbox, tmp_path, "--filter", "tag=netha")
    assert r.exit_code == 0, r.output
    assert sorted(yaml.safe_load(out.read_text())["groups"]) == ["internet-edge", "users-vlan10", "voice-hsrp", "vrrp3-20"]
    assert any(p == "/api/ipam/fhrp-groups/" and "tag=netha" in q for p, q, _a in netbox.requests)


def test_filter_by_site_takes_the_groups_with_a_member_there(netbox, tmp_path):
    r, out = _import(netbox, tmp_path, "--filter", "site=dc1", "--filter", "site=lab")
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    assert sorted(doc["groups"]) == ["lb-vip", "servers-vlan100"]
    assert sorted(doc["devices"]) == ["lb1", "lb2", "leaf1-dc", "leaf2-dc"]
    assert "(site=dc1 site=lab)" in out.read_text().splitlines()[0]


def test_a_filter_matching_no_group_writes_nothing(netbox, tmp_path):
    r, out = _import(netbox, tmp_path, "--filter", "tag=nosuchtag")
    assert r.exit_code == 2 and not out.exists()
    assert r.output.strip() == f"error: NetBox at {netbox.url} has no FHRP group netha can manage within the filter: nothing written"


def test_a_bad_filter_is_bad_input():
    with pytest.raises(InventoryError, match="unknown key 'role'"):
        parse_filters(["role=core"])
    r = runner.invoke(app, ["inventory", "from-netbox", "--url", "http://127.0.0.1:9", "--token", "env:X",
                            "--filter", "tag"])
    assert r.exit_code == 2 and "give KEY=VALUE" in r.output


def test_a_custom_field_of_type_text_holding_json_is_read_and_a_bad_one_skips_the_group(netbox, tmp_path):
    for g in netbox.objects("ipam/fhrp-groups"):
        if g["id"] == 4:
            g["custom_fields"]["netha"] = '{"policy": {"failback": "preempt"}}'
        if g["id"] == 7:
            g["custom_fields"]["netha"] = '{"track": [{"interfce": "Gi0/1"}]}'
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load(out.read_text())
    assert doc["groups"]["internet-edge"]["policy"] == {"failback": "preempt"}
    assert "voice-hsrp" not in doc["groups"]
    assert "NetBox FHRP group 7 'voice-hsrp' (HSRP 40): skipped: custom field 'netha': track.0.interfce: unknown key" in r.output


def test_an_hsrp_group_on_a_platform_without_hsrp_is_left_out_with_the_reason(netbox, tmp_path):
    for g in netbox.objects("ipam/fhrp-groups"):
        if g["id"] == 3:
            g["protocol"] = "hsrp"  # servers vlan100 on the Arista leaves
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    assert "NetBox FHRP group 3 'servers vlan100' (HSRP 100): skipped: group servers-vlan100: leaf1-dc is a arista_eos " \
           "device, which does not support HSRP" in r.output
    assert "servers-vlan100" not in yaml.safe_load(out.read_text())["groups"]


def test_json_report_lists_groups_devices_and_skipped(netbox, tmp_path):
    r, out = _import(netbox, tmp_path, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["version"] == 1 and doc["written"] == str(out)
    assert doc["groups"]["voice-hsrp"] == {"netbox_id": 7, "protocol": "hsrp", "vrid": 40,
                                           "members": ["dist1-bldg-a", "dist2-bldg-a"]}
    assert [s["group"] for s in doc["skipped"]] == ["NetBox FHRP group 5 'users-glbp' (GLBP 30)",
                                                    "NetBox FHRP group 8 'fw-carp' (CARP 5)"]


def test_overlay_problems_name_file_and_line(tmp_path):
    overlay = tmp_path / "overlay.yml"
    overlay.write_text("groups:\n  users-vlan10:\n    track:\n      - {interfce: Vlan10}\n")
    with pytest.raises(InventoryError) as exc:
        load_overlay(overlay)
    assert exc.value.problems[0].startswith(f"{overlay}:4: groups.users-vlan10.track.0")


def test_token_references_parse_and_literals_do_not():
    assert parse_token_ref("{env: NETBOX_TOKEN}").env == "NETBOX_TOKEN"
    assert parse_token_ref("env:NETBOX_TOKEN").env == "NETBOX_TOKEN"
    assert str(parse_token_ref("{file: /etc/netha/netbox-token}").file) == "/etc/netha/netbox-token"
    for literal in (TOKEN, "nbt_abc.def", "{token: x}"):
        with pytest.raises(InventoryError):
            parse_token_ref(literal)


def test_reader_reads_nested_brief_objects_of_vm_interfaces(netbox):
    data = NetboxReader(netbox.url, TOKEN).read()
    lb = next(g for g in data.groups if g.name == "lb-vip")
    assert [(m.device, m.vm, m.interface, m.priority) for m in lb.members] == [("lb1", True, "eth1", 150), ("lb2", True, "eth1", 100)]
    assert data.interface_ips[(True, 71)] == [("198.19.60.2/24", None)]


def test_reader_error_never_contains_the_token(netbox):
    netbox.fail["/api/ipam/fhrp-groups/"] = 502
    with pytest.raises(NetboxError) as exc:
        NetboxReader(netbox.url, TOKEN).read()
    assert "HTTP 502" in str(exc.value) and TOKEN not in str(exc.value)


def test_a_vip_written_as_a_host_address_takes_the_members_subnet(netbox):
    data = NetboxReader(netbox.url, TOKEN).read()
    users = next(g for g in data.groups if g.name == "users-vlan10")
    users.vips = ["198.19.10.1/32"]
    built = build(data, None, supported_protocols())
    assert built.document["groups"]["users-vlan10"]["virtual_addresses"] == ["198.19.10.1/24"]


# -- drift -------------------------------------------------------------------------------------------------

def _imported(netbox: NetboxServer, tmp_path: Path) -> Path:
    r, out = _import(netbox, tmp_path)
    assert r.exit_code == 0, r.output
    return out


def _diff(netbox: NetboxServer, inv: Path, *extra: str) -> Any:
    return runner.invoke(app, ["inventory", "diff-netbox", "-i", str(inv), "--url", netbox.url,
                               "--token", "{env: NETBOX_TEST_TOKEN}", *extra])


def test_a_fresh_import_has_no_drift(netbox, tmp_path):
    inv = _imported(netbox, tmp_path)
    r = _diff(netbox, inv)
    assert r.exit_code == 0, r.output
    assert f"in sync: {inv} and {netbox.url} agree (6 groups)" in r.output


def test_drift_in_priority_vip_member_platform_and_groups_exits_1(netbox, tmp_path):
    inv = _imported(netbox, tmp_path)
    for a in netbox.objects("ipam/fhrp-group-assignments"):
        if a["id"] == 102:
            a["priority"] = 90  # dist2 in users-vlan10
    for g in netbox.objects("ipam/fhrp-groups"):
        if g["id"] == 4:
            g["ip_addresses"][0]["address"] = "198.19.50.254/24"
        if g["id"] == 2:
            g["protocol"] = "glbp"  # vrrp3-20 leaves netha's scope in NetBox
    for d in netbox.objects("dcim/devices"):
        if d["name"] == "leaf2-dc":
            d["platform"] = {**d["platform"], "slug": "nxos"}
    assignments = netbox.objects("ipam/fhrp-group-assignments")
    assignments[:] = [a for a in assignments if a["id"] != 112]  # lb2 no longer in lb-vip
    netbox.objects("ipam/fhrp-groups").append({**netbox.objects("ipam/fhrp-groups")[0], "id": 9, "name": "new-vlan90",
                                               "group_id": 90, "ip_addresses": []})
    r = _diff(netbox, inv, "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["drift"] is True
    found = {(d["kind"], d["group"], d["device"]): (d["inventory"], d["netbox"]) for d in doc["differences"]}
    assert found[("priority", "users-vlan10", "dist2-bldg-a")] == (110, 90)
    assert found[("virtual_addresses", "internet-edge", None)] == (["198.19.50.1"], ["198.19.50.254"])
    assert found[("member_missing_in_netbox", "lb-vip", "lb2")] == (100, None)
    assert found[("platform", None, "leaf2-dc")] == ("arista_eos", "cisco_nxos")
    assert found[("group_missing_in_inventory", "new-vlan90", None)][1] == "NetBox FHRP group 9 'new-vlan90' (VRRPv3 90)"
    assert found[("group_missing_in_netbox", "vrrp3-20", None)][0] == "group vrrp3-20"
    assert len(found) == 6, found


def test_drift_text_is_one_line_each_and_a_summary(netbox, tmp_path):
    inv = _imported(netbox, tmp_path)
    for a in netbox.objects("ipam/fhrp-group-assignments"):
        if a["id"] == 113:
            a["priority"] = 130
    r = _diff(netbox, inv)
    assert r.exit_code == 1
    assert r.output.splitlines()[-2:] == [
        "group voice-hsrp: dist1-bldg-a priority 120 in the inventory, 130 in NetBox",
        f"drift: 1 difference between {inv} and {netbox.url}",
    ]


def test_a_renamed_group_is_matched_by_vrid_and_addresses(netbox, tmp_path):
    inv = _imported(netbox, tmp_path)
    inv.write_text(inv.read_text().replace("  users-vlan10:\n", "  staff:\n"))
    assert "staff" in load_checked_inventory(inv, check_secrets=False).groups
    r = _diff(netbox, inv)
    assert r.exit_code == 0, r.output


def test_the_shipped_campus_inventory_against_netbox(netbox, monkeypatch):
    """A hand-written inventory: its names and the import's differ, the diff still pairs the groups."""
    campus = Path(__file__).resolve().parents[2] / "inventories" / "example-campus.yml"
    r = _diff(netbox, campus, "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    kinds = {(d["kind"], d["group"]) for d in doc["differences"]}
    assert ("group_missing_in_netbox", "lab-vlan") in kinds  # lab-gw1/2 are not in this NetBox
    assert ("group_missing_in_inventory", "lb-vip") in kinds
    assert not any(k == "priority" for k, _g in kinds)  # the pairs that exist agree on priorities
    assert not any(d["kind"] == "platform" for d in doc["differences"])


def test_diff_with_netbox_down_is_exit_2_not_drift(netbox, tmp_path):
    inv = _imported(netbox, tmp_path)
    netbox.fail["/api/ipam/fhrp-groups/"] = 500
    r = _diff(netbox, inv)
    assert r.exit_code == 2
    assert "answered HTTP 500" in r.output


def test_diff_of_an_invalid_inventory_is_exit_2(netbox, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("devices: {}\n")
    r = _diff(netbox, bad)
    assert r.exit_code == 2 and f"{bad}:1" in r.output
    assert netbox.requests == []


def test_fixture_objects_have_netbox_serializer_shapes():
    """The fields NetBox's serializers give (ipam/api/serializers_/fhrpgroups.py) are all there."""
    group = json.loads((FIX / "fhrp-groups.json").read_text())[0]
    assert set(group) == {"id", "name", "url", "display_url", "display", "protocol", "group_id", "auth_type", "auth_key",
                          "description", "owner", "comments", "tags", "custom_fields", "created", "last_updated",
                          "ip_addresses"}
    a = json.loads((FIX / "fhrp-group-assignments.json").read_text())[0]
    assert set(a) == {"id", "url", "display", "group", "interface_type", "interface_id", "interface", "priority",
                      "created", "last_updated"}
    assert set(a["group"]) == {"id", "url", "display", "protocol", "group_id", "description"}  # brief_fields
    assert set(a["interface"]) == {"id", "url", "display", "device", "name", "description", "cable", "_occupied"}
    protocols = {g["protocol"] for g in json.loads((FIX / "fhrp-groups.json").read_text())}
    assert protocols == {"vrrp2", "vrrp3", "hsrp", "glbp", "carp"}
    copy.deepcopy(group)
