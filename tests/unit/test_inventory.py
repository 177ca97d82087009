"""The inventory loader: shipped inventories validate; every bad case gives file:line and a clear reason."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from netha.errors import CredentialError, InventoryError, NethaError, UnknownMember
from netha.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "inventories"
BAD = sorted((FIXTURES / "bad").glob("*.yml"))


def _expectations(path: Path) -> tuple[int, str]:
    text = path.read_text()
    line = int(re.search(r"^# expect-line: (\d+)$", text, re.M).group(1))
    expect = re.search(r"^# expect: (.+)$", text, re.M).group(1)
    return line, expect


@pytest.fixture(autouse=True)
def _test_password(monkeypatch):
    monkeypatch.setenv("NETHA_TEST_PASSWORD", "x")
    monkeypatch.delenv("NETHA_TEST_UNSET_PASSWORD", raising=False)
    os.chmod(FIXTURES / "bad" / "world-readable-secret.txt", 0o644)  # git does not keep 0644 vs 0600 apart


@pytest.mark.parametrize("path", ["inventories/lab.yml", "inventories/example-campus.yml"])
def test_shipped_inventories_validate(path):
    inv = load_inventory(ROOT / path, check_secrets=False)
    assert inv.devices and inv.groups


def test_lab_inventory_gives_the_frr_routers_a_shell_and_tracks_reach_beyond_the_isp():
    inv = load_inventory(ROOT / "inventories" / "lab.yml", check_secrets=False)
    assert inv.devices["r1"].shell == inv.devices["r2"].shell == "lab-linux"
    assert inv.devices["k1"].shell is None
    for group, sources in (("lan", {"r1": ("198.18.2.2", "198.18.6.2"), "r2": ("198.18.2.3", "198.18.7.2")}),
                           ("klan", {"k1": ("198.18.5.2", "198.18.6.3"), "k2": ("198.18.5.3", "198.18.7.3")})):
        reach = [t.reach for t in inv.groups[group].track if t.reach is not None]
        wan = "198.18.2.100" if group == "lan" else "198.18.5.100"
        assert [str(r.target) for r in reach] == [wan, "198.18.10.100"], group
        for i, r in enumerate(reach):
            assert {d: r.source_for(d) for d in sources} == {d: s[i] for d, s in sources.items()}
            assert (r.interval, r.window, r.max_loss) == (0.02, 10, 0.3)


def test_base_fixture_validates_with_its_secret():
    inv = load_inventory(FIXTURES / "base.yml")
    assert inv.groups["lan"].primary == "r1"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_inventory_gives_one_line_with_file_and_line(path):
    line, expect = _expectations(path)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    problems = info.value.problems
    matching = [p for p in problems if expect in p]
    assert matching, f"no problem mentions {expect!r}: {problems}"
    assert matching[0].startswith(f"{path}:{line}: "), matching[0]
    assert all("\n" not in p.replace("\\n", "") for p in problems)


def test_secret_value_never_appears_in_errors(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t-value")
    secret.chmod(0o644)
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "credentials:\n  lab: {username: u, password: {file: pw}}\n"
        "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert "s3cr3t-value" not in str(info.value)
    assert f"{inv}:2:" in str(info.value)


def test_relative_secret_file_is_relative_to_the_inventory(tmp_path):
    (tmp_path / "pw").write_text("pw\n")
    (tmp_path / "pw").chmod(0o600)
    (tmp_path / "inv.yml").write_text(
        "credentials:\n  lab: {username: u, password: {file: pw}}\n"
        "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
    )
    inv = load_inventory(tmp_path / "inv.yml")
    assert inv.credentials["lab"].password.resolve() == "pw"


def test_group_policy_inherits_defaults():
    inv = load_inventory(ROOT / "inventories/example-campus.yml", check_secrets=False)
    assert inv.policy_for("voice-vlan20").failback == "manual"
    assert inv.policy_for("voice-vlan20").hold_down == 300
    assert inv.policy_for("internet-edge").min_interval == 120


# -- hostile and broken files: one clear line naming the file, fast, never a traceback ----------

_DEVICES = "devices:\n  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"


def _load_error(path: Path, budget: float = 15.0) -> str:
    """Load ``path``; return the single problem line, checking it came at all (no hang: an expanded
    alias bomb or a recursive parse runs for minutes). Not a speed figure: ~0.1 s on an idle machine,
    the budget only has to hold on a loaded CI machine."""
    t0 = time.monotonic()
    with pytest.raises(NethaError) as info:
        load_inventory(path)
    elapsed = time.monotonic() - t0
    assert elapsed < budget, f"took {elapsed:.2f}s"
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text, text
    assert str(path) in text
    return text


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefghi", "bcdefghij"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\ndevices: {r1: {host: *j}}\n"


def test_yaml_alias_bomb_is_refused_quickly_with_file_and_line(tmp_path):
    p = tmp_path / "bomb.yml"
    p.write_text(_billion_laughs())
    msg = _load_error(p)
    assert re.match(rf"{re.escape(str(p))}:\d+: .*alias", msg), msg


def test_alias_that_contains_itself_is_refused(tmp_path):
    p = tmp_path / "cycle.yml"
    p.write_text("devices: &a [*a]\n")
    assert _load_error(p).startswith(f"{p}:1: ")


def test_a_long_chain_of_aliases_cannot_nest_past_the_depth_limit(tmp_path):
    p = tmp_path / "chain.yml"
    p.write_text("a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 3000)))
    assert "deeper than" in _load_error(p)


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}")], ids=["lists", "mappings"])
def test_5000_deep_nesting_gives_one_line_error(tmp_path, opener, closer):
    p = tmp_path / "deep.yml"
    p.write_text("devices: " + opener * 5000 + closer * 5000 + "\n")
    msg = _load_error(p)
    assert msg.startswith(f"{p}:1: ") and "nesting" in msg


def test_non_utf8_inventory_names_file_and_line(tmp_path):
    p = tmp_path / "latin1.yml"
    p.write_bytes("# r\u00e9seau\n".encode("latin-1") + _DEVICES.encode())
    msg = _load_error(p)
    assert msg.startswith(f"{p}:1: ") and "UTF-8" in msg


def test_control_character_in_inventory_names_file_and_line(tmp_path):
    p = tmp_path / "ctrl.yml"
    p.write_text(_DEVICES + "groups: {x: \x07}\n")
    assert _load_error(p).startswith(f"{p}:3: ")


@pytest.mark.parametrize("value", ["2024-02-30", "!!timestamp 2024-13-01", "!!int abc", "!!float x", "!!binary a"])
def test_value_yaml_cannot_construct_is_a_yaml_error_not_a_traceback(tmp_path, value):
    p = tmp_path / "value.yml"
    p.write_text(_DEVICES + f"groups: {{lan: {{description: {value}}}}}\n")
    assert _load_error(p).startswith(f"{p}:3: YAML error: ")


def test_missing_inventory_names_the_file(tmp_path):
    assert "No such file" in _load_error(tmp_path / "nope.yml")


def test_directory_as_inventory_names_the_file(tmp_path):
    assert "directory" in _load_error(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_inventory_names_the_file(tmp_path):
    p = tmp_path / "inv.yml"
    p.write_text(_DEVICES)
    p.chmod(0)
    assert "Permission denied" in _load_error(p)


def test_fifo_as_inventory_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "inv.yml"
    os.mkfifo(fifo)
    assert "not a regular file" in _load_error(fifo)


def _with_secret_file(tmp_path: Path, name: str = "pw") -> Path:
    inv = tmp_path / "inv.yml"
    inv.write_text(f"credentials:\n  lab: {{username: u, password: {{file: {name}}}}}\n" + _DEVICES)
    return inv


def test_non_utf8_secret_file_is_a_credential_problem_without_its_bytes(tmp_path):
    secret = tmp_path / "pw"
    secret.write_bytes(b"caf\xe9-Zq7")
    secret.chmod(0o600)
    inv = _with_secret_file(tmp_path)
    msg = _load_error(inv)
    assert msg.startswith(f"{inv}:2: ") and f"{secret}" in msg and "UTF-8" in msg
    assert "Zq7" not in msg and "caf" not in msg
    with pytest.raises(CredentialError, match="not UTF-8"):
        load_inventory(inv, check_secrets=False).credentials["lab"].password.resolve()


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_directory_as_secret_file_is_refused(tmp_path, mode):
    d = tmp_path / "pw"
    d.mkdir()
    d.chmod(mode)
    msg = _load_error(_with_secret_file(tmp_path))
    assert f"{d} is a directory" in msg


def test_missing_secret_file_names_it(tmp_path):
    assert f"{tmp_path / 'pw'} does not exist" in _load_error(_with_secret_file(tmp_path))


def _group_inventory(tmp_path: Path, member1: str = "priority: 200", group_extra: str = "") -> Path:
    p = tmp_path / "inv.yml"
    p.write_text(
        "credentials:\n  lab: {username: u, password: {env: NETHA_TEST_PASSWORD}}\n"
        "devices:\n"
        "  r1: {host: 198.18.0.11, platform: frr, credentials: lab}\n"
        "  r2: {host: 198.18.0.12, platform: frr, credentials: lab}\n"
        "groups:\n"
        "  lan:\n"
        "    vrid: 1\n"
        "    interface: eth1\n"
        "    virtual_addresses: [198.18.1.1/24]\n"
        f"{group_extra}"
        "    members:\n"
        f"      - {{device: r1, {member1}}}\n"
        "      - {device: r2, priority: 100}\n"
    )
    return p


@pytest.mark.parametrize("field,value,line", [
    ("vrid", "true", 8), ("advert_interval", "true", 11), ("preempt", "'no'", 11), ("preempt", "1", 11),
])
def test_bool_or_string_where_a_number_or_switch_is_expected_is_rejected(tmp_path, field, value, line):
    p = _group_inventory(tmp_path)
    text = p.read_text()
    if field == "vrid":
        text = text.replace("vrid: 1\n", f"vrid: {value}\n")
    else:
        text = text.replace("    members:\n", f"    {field}: {value}\n    members:\n")
    p.write_text(text)
    msg = _load_error(p)
    assert msg.startswith(f"{p}:{line}: groups.lan.{field}: expected"), msg


def test_priority_true_is_rejected_with_its_line(tmp_path):
    p = _group_inventory(tmp_path, member1="priority: true")
    assert _load_error(p).startswith(f"{p}:12: groups.lan.members.0.priority: expected a number, not true")


def test_unknown_member_is_a_netha_error_and_still_a_key_error(tmp_path):
    group = load_inventory(_group_inventory(tmp_path)).groups["lan"]
    with pytest.raises(UnknownMember) as info:
        group.member("r9")
    assert isinstance(info.value, NethaError) and isinstance(info.value, KeyError)
    assert str(info.value) == "'r9' is not a member of this group (members: r1, r2)"
    with pytest.raises(KeyError):
        group.interface_of("r9")


# -- platforms and protocols: checked against the driver registry the caller passes -------------

def _pair(tmp_path: Path, p1: str, p2: str, group: str = "    protocol: vrrp\n") -> Path:
    """Two devices of the given platforms in one group; lines 5 and 6 are r1 and r2, 14 and 15 their member entries."""
    p = tmp_path / "inv.yml"
    p.write_text(
        "credentials:\n  lab: {username: u, password: {env: NETHA_TEST_PASSWORD}}\n"
        "devices:\n"
        "  # the pair\n"
        f"  r1: {{host: 198.18.0.11, platform: {p1}, credentials: lab}}\n"
        f"  r2: {{host: 198.18.0.12, platform: {p2}, credentials: lab}}\n"
        "groups:\n"
        "  lan:\n"
        "    vrid: 1\n"
        "    interface: eth1\n"
        "    virtual_addresses: [198.18.1.1/24]\n"
        f"{group}"
        "    members:\n"
        "      - {device: r1, priority: 200}\n"
        "      - {device: r2, priority: 100}\n"
    )
    return p


def _problems(path: Path, **kw) -> list[str]:
    from netha.connect import load_checked_inventory

    with pytest.raises(InventoryError) as info:
        load_checked_inventory(path, **kw)
    assert all("\n" not in p for p in info.value.problems)
    return info.value.problems


@pytest.mark.parametrize("path", ["inventories/lab.yml", "inventories/example-campus.yml"])
def test_shipped_inventories_validate_against_the_driver_registry(path):
    from netha.connect import load_checked_inventory

    inv = load_checked_inventory(ROOT / path, check_secrets=False)
    assert inv.devices and inv.groups


def test_platform_netutils_knows_but_netha_has_no_driver_for_is_refused_with_its_line(tmp_path):
    path = _pair(tmp_path, "frr", "hp_procurve")
    assert load_inventory(path).devices["r2"].platform == "hp_procurve"  # a netutils name: no registry, no refusal
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:6: device r2: unknown platform 'hp_procurve': netha has no driver for it")
    assert "frr" in problem and "keepalived" in problem


@pytest.mark.parametrize("platform, group, refused", [
    ("arista_eos", "    protocol: hsrp\n", "HSRP"),
    ("juniper_junos", "    protocol: varp\n", "VARP"),
    ("cisco_ios", "    protocol: varp\n", "VARP"),
    ("keepalived", "    mode: static\n", "static gateway moves (mode: static)"),
])
def test_group_whose_protocol_a_member_platform_lacks_is_refused_at_the_member(tmp_path, platform, group, refused):
    path = _pair(tmp_path, platform, platform, group)
    problems = _problems(path)
    assert problems[0] == f"{path}:14: group lan: r1 is a {platform} device, which does not support {refused}"
    assert problems[1].startswith(f"{path}:15: group lan: r2 ")
    assert len(problems) == 2


@pytest.mark.parametrize("platform, group", [
    ("cisco_xe", "    protocol: hsrp\n"), ("cisco_nxos", "    protocol: hsrp\n"), ("arista_eos", "    protocol: varp\n"),
    ("frr", "    mode: static\n"), ("keepalived", "    protocol: vrrp\n"),
])
def test_group_every_member_platform_supports_is_accepted(tmp_path, platform, group):
    from netha.connect import load_checked_inventory

    inv = load_checked_inventory(_pair(tmp_path, platform, platform, group))
    assert inv.groups["lan"].members[0].device == "r1"


def test_ipv6_vrrp_group_on_a_platform_that_renders_no_ipv6_vrrp_is_refused_at_load(tmp_path):
    # cisco_ios: IPv6 only with HSRP or static (IPv6 VRRP needs VRRPv3: cisco_xe).
    path = _pair(tmp_path, "cisco_ios", "cisco_ios")
    path.write_text(path.read_text().replace("[198.18.1.1/24]", '["2001:2:0:1::1/64"]'))
    problems = _problems(path)
    assert problems[0] == f"{path}:14: group lan: r1 is a cisco_ios device, which does not support VRRP for IPv6"
    xe = _pair(tmp_path, "cisco_xe", "cisco_xe")
    xe.write_text(xe.read_text().replace("[198.18.1.1/24]", '["2001:2:0:1::1/64"]'))
    from netha.connect import load_checked_inventory

    assert load_checked_inventory(xe).groups["lan"].family == 6


def test_the_loader_checks_against_the_registry_it_is_given(tmp_path):
    path = _pair(tmp_path, "frr", "frr", "    mode: static\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path, platforms={"frr": {"vrrp"}})
    assert [p.split(": ", 1)[0] for p in info.value.problems] == [f"{path}:14", f"{path}:15"]
    assert load_inventory(path, platforms={"frr": {"vrrp", "static"}}).groups["lan"].mode == "static"


def test_cli_inventory_refuses_a_platform_without_a_driver(tmp_path):
    from netha.cli.common import load_inventory as cli_load_inventory, open_inventory

    path = _pair(tmp_path, "hp_procurve", "frr")
    for load in (cli_load_inventory, lambda p: open_inventory(p, enter_namespace=False)):
        with pytest.raises(InventoryError, match=r":5: device r1: unknown platform 'hp_procurve'"):
            load(path)


def test_the_inventory_package_imports_no_driver():
    import ast

    found = []
    for path in sorted((ROOT / "netha" / "inventory").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and ("drivers" in (node.module or "") or any(a.name == "drivers" for a in node.names)):
                found.append(f"{path.name}: {node.module}")
            elif isinstance(node, ast.Import) and any("drivers" in a.name for a in node.names):
                found.append(path.name)
    assert not found
