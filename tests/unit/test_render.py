"""User templates render in Jinja2's sandbox; every template failure is a TemplateError naming the file."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netha.errors import TemplateError
from netha.drivers.changes import ChangeValues
from netha.drivers.render import Renderer

VALUES = ChangeValues("eth1", 1, 100, ipaddress.IPv4Interface("198.18.1.1/24"))


def _user_template(tmp_path: Path, body: str, op: str = "resign") -> Path:
    (tmp_path / "frr").mkdir(exist_ok=True)
    path = tmp_path / "frr" / f"{op}.j2"
    path.write_text(body)
    return path


def _render_error(tmp_path: Path, body: str) -> str:
    path = _user_template(tmp_path, body)
    with pytest.raises(TemplateError) as info:
        Renderer("frr", tmp_path).render("resign", VALUES)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg, msg
    return msg


@pytest.mark.parametrize("body", [
    "interface {{ ''.__class__.__mro__ }}\n",
    "interface {{ ''.__class__ }}\n",
    "interface {{ interface.__class__.__base__.__subclasses__() }}\n",
    "interface {{ cycler.__init__.__globals__.os }}\n",
    "interface {{ lipsum.__globals__['os'] }}\n",
    "interface {{ address._ip }}\n",
    "interface {{ address.__init__.__globals__ }}\n",
    "interface {{ (interface|attr('__class__')) }}\n",
    "interface {{ self.__init__.__globals__ }}\n",
])
def test_a_template_reaching_for_python_internals_is_a_template_error(tmp_path, body):
    msg = _render_error(tmp_path, body)
    assert msg.startswith("platform frr: template resign.j2: refused by the sandbox: "), msg


def test_the_sandbox_refusal_is_named_and_has_the_line(tmp_path):
    msg = _render_error(tmp_path, "interface eth1\n vrrp {{ ''.__class__.__mro__ }} priority 1\n")
    assert "refused by the sandbox" in msg and "line 2" in msg, msg


@pytest.mark.parametrize("body", [
    "{% set xs = [] %}{{ xs.append(1) }}interface eth1\n",   # the immutable sandbox: no mutation
    "{% set d = {} %}{{ d.update(a=1) }}interface eth1\n",
])
def test_a_template_cannot_mutate_values(tmp_path, body):
    assert "refused by the sandbox" in _render_error(tmp_path, body)


@pytest.mark.parametrize("body", [
    "interface {{ 'x' * 1000000000 }}\n",
    "interface {{ 10 ** 100000000 }}\n",
    "{% for i in range(1000000000) %}x{% endfor %}\n",
])
def test_a_template_cannot_exhaust_memory_or_time(tmp_path, body):
    _render_error(tmp_path, body)


def test_syntax_error_names_file_and_line(tmp_path):
    msg = _render_error(tmp_path, "interface {{ interface }}\n vrrp {{ vrid \n")
    assert "line 2" in msg, msg


def test_undefined_value_names_file_and_line(tmp_path):
    msg = _render_error(tmp_path, "interface {{ interface }}\n vrrp {{ no_such_value }} priority 1\n")
    assert "'no_such_value' is undefined" in msg and "line 2" in msg, msg


def test_any_exception_a_template_provokes_is_a_template_error(tmp_path):
    msg = _render_error(tmp_path, "interface {{ 1 // 0 }}\n")
    assert "ZeroDivisionError" in msg


def test_ordinary_user_template_still_renders(tmp_path):
    _user_template(tmp_path, "interface {{ interface }}\n vrrp {{ vrid }} priority {{ [priority, 1]|min }}\n"
                             " vrrp {{ vrid }} ip {{ address.ip }}\nexit\n")
    assert Renderer("frr", tmp_path).render("resign", VALUES) == [
        "interface eth1", " vrrp 1 priority 1", " vrrp 1 ip 198.18.1.1", "exit"]


# controller.templates in an inventory: a folder of overrides, relative to the inventory file.

BASE_INVENTORY = Path(__file__).parent / "fixtures" / "inventories" / "base.yml"


def _inventory_with(tmp_path: Path, controller: str):
    from netha.inventory import load_inventory

    path = tmp_path / "inv.yml"
    path.write_text(BASE_INVENTORY.read_text() + f"controller:\n{controller}")
    return load_inventory(path, check_secrets=False)


def test_inventory_templates_folder_is_relative_to_the_inventory_file(tmp_path):
    inv = _inventory_with(tmp_path, "  templates: my-templates\n")
    assert inv.controller.templates == tmp_path / "my-templates"


def test_inventory_template_dir_is_still_accepted_as_the_deprecated_name_of_templates(tmp_path):
    inv = _inventory_with(tmp_path, "  template_dir: old-name\n")
    assert inv.controller.templates == tmp_path / "old-name"


def test_inventory_with_both_template_options_is_refused_at_the_controller_line(tmp_path):
    from netha.errors import InventoryError

    with pytest.raises(InventoryError) as info:
        _inventory_with(tmp_path, "  templates: a\n  template_dir: b\n")
    controller_line = BASE_INVENTORY.read_text().count("\n") + 1
    assert [p for p in info.value.problems if "give `templates` only" in p] == [
        f"{tmp_path / 'inv.yml'}:{controller_line}: controller: Value error, give `templates` only "
        "(`template_dir` is its deprecated old name)"], info.value.problems


def test_inventory_templates_override_the_shipped_ones_file_by_file(tmp_path):
    inv = _inventory_with(tmp_path, "  templates: tpl\n")
    (tmp_path / "tpl").mkdir()
    _user_template(tmp_path / "tpl", "interface {{ interface }}\n vrrp {{ vrid }} priority 7\nexit\n")
    renderer = Renderer("frr", inv.controller.templates)
    assert renderer.render("resign", VALUES) == ["interface eth1", " vrrp 1 priority 7", "exit"]
    # set_priority.j2 is not in the user's folder: the shipped one renders.
    shipped = Renderer("frr").render("set_priority", VALUES)
    assert " vrrp 1 priority 100" in shipped
    assert renderer.render("set_priority", VALUES) == shipped
