"""netha's templates ship inside the package: found through importlib.resources from any install.

A built wheel and sdist are checked by scripts/check-wheel.sh (it builds them; too slow for a unit test).
"""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path

import pytest

from netha.drivers import NetworkDriver, driver_class, platforms
from netha.drivers.changes import OPERATIONS
from netha.drivers.render import TEMPLATE_PACKAGE, Renderer, builtin_template_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SHIPPED = importlib.resources.files(TEMPLATE_PACKAGE)


def test_every_driver_platform_has_its_templates_in_the_installed_package():
    # Every platform whose driver renders its changes from templates (keepalived edits its config
    # structurally and has none); reach.j2 is the native probers' template, beside the operations.
    assert len(platforms()) >= 7, platforms()
    rendering = [p for p in platforms() if driver_class(p).render_change.__func__ is NetworkDriver.render_change.__func__]
    assert len(rendering) >= 6 and "keepalived" not in rendering, rendering
    for platform in rendering:
        folder = SHIPPED / platform
        assert folder.is_dir(), f"{TEMPLATE_PACKAGE} has no folder {platform}/: is netha installed with its templates?"
        names = {entry.name for entry in folder.iterdir() if entry.name.endswith(".j2")}
        assert names - {"reach.j2"} == {f"{op}.j2" for op in OPERATIONS}, platform
    assert not (SHIPPED / "keepalived").is_dir()


def test_the_package_templates_are_the_repository_templates_folder():
    # An editable install maps netha._templates onto templates/: one source, no copy to drift.
    assert Path(str(SHIPPED)).resolve() == (ROOT / "templates").resolve()


def test_renderer_finds_shipped_templates_through_the_package(monkeypatch):
    monkeypatch.delenv("NETHA_TEMPLATES", raising=False)
    assert builtin_template_dir() == Path(str(SHIPPED))
    assert Renderer("cisco_xe").dirs == [Path(str(SHIPPED)) / "cisco_xe"]


def test_pyproject_maps_the_templates_folder_onto_the_template_package():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert setuptools["package-dir"][TEMPLATE_PACKAGE] == "templates"
    assert TEMPLATE_PACKAGE in setuptools["packages"]
    assert setuptools["package-data"][TEMPLATE_PACKAGE] == ["*/*.j2"]


def test_every_python_package_under_netha_is_listed_in_pyproject():
    # Packages are listed, not discovered (discovery cannot map templates/ onto netha._templates):
    # a package missing from the list would be missing from every wheel.
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "netha").rglob("__init__.py")}
    on_disk.discard("")
    assert len(on_disk) >= 9, on_disk
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert on_disk - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {TEMPLATE_PACKAGE}
