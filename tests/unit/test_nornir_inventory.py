"""Devices from a Nornir SimpleInventory: Nornir's inheritance, netha's secrets rule, file:line errors.

Fixtures: Nornir's own test inventory and tutorial inventory (tests/unit/fixtures/nornir/README.md).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netha.cli.main import app
from netha.connect import load_checked_inventory
from netha.errors import InventoryError
from netha.inventory import load_inventory
from netha.inventory.nornir import load_simple_inventory

FIX = Path(__file__).parent / "fixtures" / "nornir"
NORNIR_TESTS = FIX / "nornir-tests"
TUTORIAL_DIR = FIX / "tutorial"
TUTORIAL = TUTORIAL_DIR / "inventory"


def _nornir_tests(passwords: str = "ignore"):
    return load_simple_inventory(NORNIR_TESTS / "hosts.yaml", NORNIR_TESTS / "groups.yaml",
                                 NORNIR_TESTS / "defaults.yaml", passwords=passwords)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _problems(path: Path, **kw) -> list[str]:
    with pytest.raises(InventoryError) as exc:
        load_checked_inventory(path, **kw)
    return exc.value.problems


# -- Nornir's semantics, checked against Nornir's own test expectations (tests/core/test_inventory.py) ---

def test_data_resolves_host_then_groups_then_defaults_as_nornir_does():
    hosts = _nornir_tests()
    dev1 = hosts["dev1.group_1"]
    # Nornir: test_inventory_data
    assert dev1.data["my_var"] == "comes_from_dev1.group_1"
    assert dev1.data["a_var"] == "blah"  # from parent_group, through group_1
    assert dev1.data["only_default"] == "only_defined_in_default"
    assert hosts["dev2.group_1"].data["my_var"] == "comes_from_group_1"
    assert hosts["dev3.group_2"].data["my_var"] == "comes_from_defaults"
    assert hosts["dev4.group_2"].data["my_var"] == "comes_from_dev4.group_2"


def test_extended_groups_are_depth_first_in_order_each_once():
    hosts = _nornir_tests()
    assert hosts["dev1.group_1"].groups == ("group_1", "parent_group")
    assert hosts["dev6.group_3"].groups == ("group_3", "dummy_group", "parent_group")
    assert hosts["dev4.group_2"].groups == ("parent_group", "group_2")
    assert hosts["dev5.no_group"].groups == ()


def test_attributes_come_from_the_host_else_its_groups_else_the_defaults():
    hosts = _nornir_tests()
    dev1 = hosts["dev1.group_1"]
    assert (dev1.hostname, dev1.port, dev1.platform) == ("localhost", 65020, "eos")
    # username is null on every host and group; the defaults say root (Nornir: get_connection_parameters)
    assert dev1.username == "root"
    assert dev1.where["username"] == f"{NORNIR_TESTS / 'defaults.yaml'}:4"
    assert dev1.where["platform"] == f"{NORNIR_TESTS / 'hosts.yaml'}:7"
    assert hosts["dev2.group_1"].platform == "junos"


def test_passwords_in_nornir_files_are_refused_at_each_line_without_quoting_them():
    with pytest.raises(InventoryError) as exc:
        _nornir_tests(passwords="refuse")
    lines = exc.value.problems
    where = [line.split(": ", 1)[0] for line in lines]
    assert f"{NORNIR_TESTS / 'defaults.yaml'}:5" in where            # password: docker
    assert f"{NORNIR_TESTS / 'groups.yaml'}:7" in where              # parent_group: from_parent_group
    assert f"{NORNIR_TESTS / 'hosts.yaml'}:6" in where               # dev1: a_password
    assert f"{NORNIR_TESTS / 'hosts.yaml'}:26" in where              # dev1 connection_options.paramiko
    assert len(lines) == 8
    text = "\n".join(lines)
    for secret in ("a_password", "docker", "from_parent_group", "from_group1"):
        assert secret not in text


def test_unknown_parent_group_names_file_and_line(tmp_path):
    hosts = _write(tmp_path / "hosts.yaml", """
        r1:
          hostname: 198.18.0.1
          groups: [core, edge]
        """)
    _write(tmp_path / "groups.yaml", "core: {platform: eos}\n")
    with pytest.raises(InventoryError) as exc:
        load_simple_inventory(hosts, tmp_path / "groups.yaml")
    assert exc.value.problems == [f"{hosts}:3: host r1: unknown Nornir group 'edge' (groups: core)"]


def test_a_group_cycle_is_refused_not_recursed_forever(tmp_path):
    hosts = _write(tmp_path / "hosts.yaml", "r1: {groups: [a]}\n")
    groups = _write(tmp_path / "groups.yaml", "a: {groups: [b]}\nb: {groups: [a]}\n")
    with pytest.raises(InventoryError) as exc:
        load_simple_inventory(hosts, groups)
    assert "is its own ancestor" in exc.value.problems[0] and str(groups) in exc.value.problems[0]


def test_a_port_that_is_not_a_number_names_its_line(tmp_path):
    hosts = _write(tmp_path / "hosts.yaml", "r1:\n  hostname: 198.18.0.1\n  port: twenty-two\n")
    with pytest.raises(InventoryError) as exc:
        load_simple_inventory(hosts)
    assert exc.value.problems == [f"{hosts}:3: host r1: port must be a number 1-65535, not 'twenty-two'"]


# -- a netha inventory whose devices come from Nornir ---------------------------------------------------

def _tutorial_inventory(tmp_path: Path, members: tuple[str, str] = ("leaf00.cmh", "leaf01.cmh"), extra: str = "") -> Path:
    return _write(tmp_path / "inv.yml", f"""
        controller:
          ssh: {{known_hosts: /etc/netha/known_hosts}}
        credentials:
          netops:
            username: netha
            password: {{env: NETHA_TEST_PASSWORD}}
        devices_from:
          nornir:
            hosts: {TUTORIAL / 'hosts.yaml'}
            credentials: netops
            passwords: ignore
        {textwrap.indent(extra, '        ').strip()}
        groups:
          cmh-users:
            vrid: 10
            interface: Vlan10
            virtual_addresses: [198.18.10.1/24]
            members:
              - {{device: {members[0]}, priority: 120}}
              - {{device: {members[1]}, priority: 110}}
        """)


def test_tutorial_hosts_become_netha_devices_with_platform_port_and_username(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    inv = load_checked_inventory(_tutorial_inventory(tmp_path))
    assert sorted(inv.devices) == ["leaf00.cmh", "leaf01.cmh"]  # only the hosts netha's groups use
    leaf00, leaf01 = inv.devices["leaf00.cmh"], inv.devices["leaf01.cmh"]
    assert (str(leaf00.host), leaf00.platform, leaf01.platform) == ("127.0.0.1", "arista_eos", "juniper_junos")
    assert leaf00.ssh is not None and leaf00.ssh.port == 12443
    assert str(leaf00.ssh.known_hosts) == "/etc/netha/known_hosts"  # the controller's SSH settings are kept
    # Nornir's username (vagrant) on netha's credentials: the password stays netha's reference
    cred = inv.credentials[leaf00.credentials]
    assert leaf00.credentials == "netops.vagrant" and cred.username == "vagrant"
    assert cred.password is not None and cred.password.env == "NETHA_TEST_PASSWORD"


def test_netha_validate_accepts_an_inventory_with_nornir_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = _tutorial_inventory(tmp_path)
    r = CliRunner().invoke(app, ["validate", "-i", str(path)])
    assert r.exit_code == 0, r.output
    assert "ok (2 devices, 1 groups)" in r.output


def test_include_takes_hosts_by_nornir_group(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = _tutorial_inventory(tmp_path)
    text = path.read_text().replace("passwords: ignore", "passwords: ignore\n    include: [spine0*.bma]")
    path.write_text(text)
    inv = load_checked_inventory(path)
    assert sorted(inv.devices) == ["leaf00.cmh", "leaf01.cmh", "spine00.bma", "spine01.bma"]


def test_a_linux_host_as_member_is_refused_at_its_platform_line(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    problems = _problems(_tutorial_inventory(tmp_path, members=("leaf00.cmh", "host1.cmh")))
    assert problems == [
        f"{TUTORIAL / 'hosts.yaml'}:7: host host1.cmh: platform 'linux' is 'linux' (netutils), which netha has no "
        "driver for (platforms: arista_eos, cisco_ios, cisco_nxos, cisco_xe, frr, juniper_junos, keepalived) "
        "(devices_from.nornir.platforms maps a name)"
    ]


def test_tutorial_passwords_are_refused_unless_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = _tutorial_inventory(tmp_path)
    path.write_text(path.read_text().replace("passwords: ignore", "passwords: refuse"))
    problems = _problems(path)
    assert problems and all("a password in a Nornir file is a secret in a file" in p for p in problems)
    assert problems[0].startswith(f"{TUTORIAL / 'hosts.yaml'}:6: host host1.cmh")
    assert not any("vagrant" in p or "wrong_password" in p for p in problems)


def _own_nornir(tmp_path: Path, hosts: str, inventory_extra: str = "", block_extra: str = "") -> Path:
    _write(tmp_path / "nornir" / "hosts.yaml", hosts)
    _write(tmp_path / "nornir" / "groups.yaml", """
        lab:
          platform: frr
          data:
            netha: {shell: root}
        """)
    _write(tmp_path / "nornir" / "defaults.yaml", "username: netha\n")
    return _write(tmp_path / "inv.yml", f"""
        credentials:
          ops: {{username: netha, key_file: /etc/netha/id_ed25519}}
          root: {{username: root, key_file: /etc/netha/id_ed25519}}
        {textwrap.indent(inventory_extra, '        ').strip()}
        devices_from:
          nornir:
            hosts: nornir/hosts.yaml
            credentials: ops
            {textwrap.indent(block_extra, '            ').strip()}
        groups:
          lan:
            vrid: 1
            interface: eth1
            virtual_addresses: [198.18.1.1/24]
            members:
              - {{device: r1, priority: 200, address: 198.18.1.2/24}}
              - {{device: r2, priority: 100, address: 198.18.1.3/24}}
        """)


def test_relative_nornir_paths_and_group_data_netha_settings(tmp_path):
    path = _own_nornir(tmp_path, """
        r1: {hostname: 198.18.0.1, groups: [lab]}
        r2: {hostname: 198.18.0.2, groups: [lab], data: {netha: {description: backup router}}}
        """)
    inv = load_checked_inventory(path)
    r1, r2 = inv.devices["r1"], inv.devices["r2"]
    assert (r1.platform, r1.shell, r1.credentials, r1.ssh) == ("frr", "root", "ops", None)  # username matches: no copy
    assert r2.description == "backup router" and str(r2.host) == "198.18.0.2"
    assert set(inv.credentials) == {"ops", "root"}


def test_a_bad_hostname_in_nornir_names_the_nornir_line(tmp_path):
    path = _own_nornir(tmp_path, """
        r1: {hostname: 198.18.0.1, groups: [lab]}
        r2:
          hostname: "bad host; reload"
          groups: [lab]
        """)
    problems = _problems(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'nornir' / 'hosts.yaml'}:3: devices.r2.host: ")


def test_unknown_key_in_data_netha_names_its_line(tmp_path):
    path = _own_nornir(tmp_path, """
        r1: {hostname: 198.18.0.1, groups: [lab], data: {netha: {credential: ops}}}
        r2: {hostname: 198.18.0.2, groups: [lab]}
        """)
    problems = _problems(path)
    assert problems == [
        f"{tmp_path / 'nornir' / 'hosts.yaml'}:1: host r1: unknown key 'credential' in data.netha "
        "(known: credentials, snmp, shell, platform, description)"
    ]


def test_a_device_both_in_the_inventory_and_in_nornir_is_refused(tmp_path):
    path = _own_nornir(tmp_path, """
        r1: {hostname: 198.18.0.1, groups: [lab]}
        r2: {hostname: 198.18.0.2, groups: [lab]}
        """, inventory_extra="devices:\n  r1: {host: 198.18.0.1, platform: frr, credentials: ops}\n")
    problems = _problems(path)
    assert len(problems) == 1 and "device r1 is also a Nornir host" in problems[0]
    assert problems[0].startswith(f"{tmp_path / 'inv.yml'}:5:")


def test_unknown_key_in_devices_from_names_the_inventory_line(tmp_path):
    path = _own_nornir(tmp_path, "r1: {hostname: 198.18.0.1, groups: [lab]}\n", block_extra="password_policy: ignore\n")
    problems = _problems(path)
    assert problems == [f"{tmp_path / 'inv.yml'}:9: devices_from.nornir.password_policy: unknown key 'password_policy'"]


def test_platform_map_in_the_block_maps_a_name_netutils_does_not_know(tmp_path):
    path = _own_nornir(tmp_path, """
        r1: {hostname: 198.18.0.1, platform: catalyst-9k}
        r2: {hostname: 198.18.0.2, platform: catalyst-9k}
        """, block_extra="platforms: {catalyst-9k: cisco_xe}\n")
    inv = load_checked_inventory(path)
    assert inv.devices["r1"].platform == "cisco_xe"


def test_a_named_groups_file_that_is_missing_is_an_error(tmp_path):
    path = _own_nornir(tmp_path, "r1: {hostname: 198.18.0.1}\n", block_extra="groups: nornir/nope.yaml\n")
    problems = _problems(path)
    assert problems == [f"{tmp_path / 'nornir' / 'nope.yaml'}: cannot read: No such file or directory"]


def test_without_the_driver_registry_a_netutils_name_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    inv = load_inventory(_tutorial_inventory(tmp_path), check_secrets=False)
    assert inv.devices["leaf01.cmh"].platform == "juniper_junos"


# -- Nornir's config.yaml --------------------------------------------------------------------------------

def test_nornir_config_yaml_names_the_inventory_files(tmp_path, monkeypatch):
    """Nornir's tutorial config.yaml, unchanged: inventory.options.host_file and friends."""
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    path = _tutorial_inventory(tmp_path)
    path.write_text(path.read_text().replace(f"hosts: {TUTORIAL / 'hosts.yaml'}", f"config: {TUTORIAL_DIR / 'config.yaml'}"))
    inv = load_checked_inventory(path)
    assert sorted(inv.devices) == ["leaf00.cmh", "leaf01.cmh"]
    assert inv.devices["leaf01.cmh"].ssh is not None and inv.devices["leaf01.cmh"].ssh.port == 12203


def test_a_nornir_config_with_another_inventory_plugin_is_refused_at_its_line(tmp_path):
    config = _write(tmp_path / "nornir" / "config.yaml", """
        inventory:
          plugin: NetBoxInventory2
          options: {nb_url: https://netbox.example.net}
        """)
    path = _own_nornir(tmp_path, "r1: {hostname: 198.18.0.1, groups: [lab]}\n")
    path.write_text(path.read_text().replace("hosts: nornir/hosts.yaml", "config: nornir/config.yaml"))
    assert _problems(path) == [
        f"{config}:2: inventory plugin 'NetBoxInventory2': netha reads SimpleInventory files only "
        "(hosts.yaml, groups.yaml, defaults.yaml)"
    ]


def test_hosts_and_config_together_are_refused(tmp_path):
    path = _own_nornir(tmp_path, "r1: {hostname: 198.18.0.1, groups: [lab]}\n", block_extra="config: nornir/config.yaml\n")
    problems = _problems(path)
    assert len(problems) == 1 and "give `hosts` (Nornir's hosts.yaml) or `config`" in problems[0]
    assert problems[0].startswith(f"{tmp_path / 'inv.yml'}:6: devices_from.nornir")
