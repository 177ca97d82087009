"""Render config changes from Jinja2 templates, ``templates/<platform>/<operation>.j2`` (the driver layer:
:meth:`~netha.drivers.base.NetworkDriver.render_change` of the text platforms calls it).

Only validated values can reach a template: VRIDs 1-255, priorities 1-254, interface names
matching the strict pattern, ``ipaddress`` objects. The rendered text is checked again line by
line, so a value with a newline or a command separator can never reach a device.

netha's own templates ship inside the package as ``netha._templates`` (the repository's top-level
``templates/`` folder, mapped in pyproject.toml), found with :mod:`importlib.resources` from any
install. An inventory's ``controller.templates`` folder overrides them file by file, same layout.

Templates render in Jinja2's immutable sandbox: no attribute that starts with an underscore
(``''.__class__.__mro__``, ``cycler.__init__.__globals__``), no method that changes a value, no
huge ``range``; ``*`` and ``**`` are bounded too. Every failure (syntax, undefined value, sandbox
refusal, any exception a template provokes) is a :class:`TemplateError` naming the template's file
and line.
"""

from __future__ import annotations

import functools
import importlib.resources
import ipaddress
import os
import re
import traceback
from collections.abc import Sequence
from pathlib import Path

import jinja2
import jinja2.sandbox

from ..errors import TemplateError
from .changes import IFACE, OPERATIONS, ChangeValues, Operation
from .models import ReachProbe

_IFACE = IFACE
# What a rendered config line may contain: no control characters, no command separators.
_SAFE_LINE = re.compile(r"^[ A-Za-z0-9_./:-]*$")


# What a template may build: a config change is a few lines.
_MAX_TEXT = 64 * 1024
_MAX_POWER = 64


class _Sandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with ``*`` and ``**`` bounded (``'x' * 10**9`` is refused, not built)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: object, right: object) -> object:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_POWER:
            raise jinja2.sandbox.SecurityError(f"exponent {right} is too big for a template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_TEXT:
                    raise jinja2.sandbox.SecurityError("a repetition that big is refused in a template")
        return super().call_binop(context, operator, left, right)


TEMPLATE_PACKAGE = "netha._templates"


def builtin_template_dir() -> Path:
    """The folder of netha's shipped templates: ``$NETHA_TEMPLATES`` if set, else the package ``netha._templates``."""
    env = os.environ.get("NETHA_TEMPLATES")
    if env:
        return Path(env)
    try:
        folder = importlib.resources.files(TEMPLATE_PACKAGE)
    except ModuleNotFoundError:
        raise TemplateError(f"netha's templates are not installed (no package {TEMPLATE_PACKAGE}): reinstall netha") from None
    if not isinstance(folder, Path):  # a zipped install: pip never makes one
        raise TemplateError(f"netha's templates must be installed as files, not inside {folder}")
    return folder


def _check_probe(p: ReachProbe) -> None:
    for name in ("target", "source"):
        value = getattr(p, name)
        if value is None and name == "source":
            continue
        try:
            ipaddress.ip_address(value)
        except (ValueError, TypeError):
            if name == "target" or not isinstance(value, str) or not _IFACE.match(value):
                raise TemplateError(f"probe {p.key!r}: invalid {name} {value!r}") from None
    if p.kind not in ("icmp", "tcp") or (p.kind == "tcp") != (p.port is not None):
        raise TemplateError(f"probe {p.key!r}: invalid kind {p.kind!r} / port {p.port!r}")
    if p.port is not None and (type(p.port) is not int or not 1 <= p.port <= 65535):
        raise TemplateError(f"probe {p.key!r}: invalid port {p.port!r}")
    if type(p.index) is not int or not 1 <= p.index <= 500:
        raise TemplateError(f"probe {p.key!r}: invalid index {p.index!r} (1-500)")
    for name in ("interval", "timeout"):
        value = getattr(p, name)
        if not isinstance(value, (int, float)) or not 0 < value <= 3600:
            raise TemplateError(f"probe {p.key!r}: invalid {name} {value!r}")


class Renderer:
    """Finds templates for one platform: the user's folder first, then netha's own."""

    def __init__(self, platform: str, user_dir: Path | None = None):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", platform):
            raise TemplateError(f"invalid platform name {platform!r}")
        self.platform = platform
        dirs = []
        if user_dir is not None:
            dirs.append(user_dir / platform)
        dirs.append(builtin_template_dir() / platform)
        self.dirs = [d for d in dirs if d.is_dir()]
        if not self.dirs:
            raise TemplateError(f"no templates for platform {platform!r} (looked in {', '.join(map(str, dirs))})")
        self.env = _Sandbox(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, operation: Operation, values: ChangeValues) -> list[str]:
        if operation not in OPERATIONS:
            raise TemplateError(f"unknown operation {operation!r}")
        if not isinstance(values, ChangeValues):
            raise TemplateError(f"not change values: {type(values).__name__}")
        return self._render_lines(operation, dict(values.__dict__))

    def warm(self, operations: Sequence[str]) -> int:
        """Compile the templates of ``operations`` now (the daemon does at start, so that the first
        emergency plan does not compile its template between the decision and the push); the number
        compiled. A missing or broken template is left for the plan to report."""
        n = 0
        for op in operations:
            try:
                self.env.get_template(f"{op}.j2")
                n += 1
            except Exception:  # noqa: BLE001 - reported where it matters: when a plan renders it
                continue
        return n

    def render_reach(self, probes: Sequence[ReachProbe]) -> list[str]:
        """The platform's native prober config for ``probes`` (template ``reach.j2``, given
        ``probes``: each checked here: the target and source are IP addresses or interface
        names, the numbers are in range)."""
        for p in probes:
            _check_probe(p)
        return self._render_lines("reach", {"probes": list(probes)})

    def _render_lines(self, operation: str, context: dict) -> list[str]:
        name = f"{operation}.j2"
        template: jinja2.Template | None = None
        try:
            template = self.env.get_template(name)
            text = template.render(**context)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"platform {self.platform}: no template {name}") from None
        except Exception as exc:  # noqa: BLE001 - syntax, undefined, sandbox, or anything a template provokes
            raise self._error(name, template, exc) from None
        if len(text) > _MAX_TEXT:
            raise TemplateError(f"platform {self.platform}: template {name} rendered more than {_MAX_TEXT} characters")
        lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
        for ln in lines:
            if not _SAFE_LINE.match(ln):
                raise TemplateError(f"platform {self.platform}: {name} rendered an unsafe line {ln!r}")
        return lines

    def _error(self, name: str, template: jinja2.Template | None, exc: Exception) -> TemplateError:
        """One line: the platform, the template, what went wrong, and the file and line it went wrong at."""
        filename = getattr(exc, "filename", None) or (template.filename if template is not None else None)
        lineno = getattr(exc, "lineno", None)
        if lineno is None and filename:
            # Jinja2 rewrites tracebacks so that a template's frames carry its file name and line.
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
            lineno = frames[-1].lineno if frames else None
        if isinstance(exc, jinja2.TemplateError):
            what = exc.message or type(exc).__name__
            if isinstance(exc, jinja2.sandbox.SecurityError):
                what = f"refused by the sandbox: {what}"
        else:
            what = f"{type(exc).__name__}: {exc}"
        where = f" ({filename}{f', line {lineno}' if lineno else ''})" if filename else ""
        what = " ".join(str(what).split())[:300]
        return TemplateError(f"platform {self.platform}: template {name}: {what}{where}")


def renderer(platform: str, user_dir: Path | None = None) -> Renderer:
    """The :class:`Renderer` of ``platform`` with the inventory's override folder ``user_dir``
    (``controller.templates``), kept for reuse (Jinja2 reloads a template whose file changed)."""
    return _renderer(platform, user_dir, builtin_template_dir())


@functools.lru_cache(maxsize=64)
def _renderer(platform: str, user_dir: Path | None, builtin: Path) -> Renderer:
    return Renderer(platform, user_dir)
