"""Render config changes from Jinja2 templates, ``templates/<platform>/<operation>.j2``.

Only validated values can reach a template: VRIDs 1-255, priorities 1-254, interface names
matching the strict pattern, ``ipaddress`` objects. The rendered text is checked again line by
line, so a value with a newline or a command separator can never reach a device. A user can
override any template by putting a file of the same name in the inventory's ``template_dir``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from .errors import TemplateError

OPERATIONS = ("set_priority", "resign", "restore", "add_address", "remove_address", "preempt")
Operation = Literal["set_priority", "resign", "restore", "add_address", "remove_address", "preempt"]

_IFACE = re.compile(r"^[A-Za-z][A-Za-z0-9_./:-]{0,63}$")
# What a rendered config line may contain: no control characters, no command separators.
_SAFE_LINE = re.compile(r"^[ A-Za-z0-9_./:-]*$")


def builtin_template_dir() -> Path:
    env = os.environ.get("NETHA_TEMPLATES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class ChangeValues:
    """The only values a template ever sees. Constructed with checks; immutable."""

    interface: str
    vrid: int | None = None
    priority: int | None = None
    address: ipaddress.IPv4Interface | None = None
    mode: Literal["vrrp", "static"] = "vrrp"
    enabled: bool = True
    protocol: Literal["vrrp", "hsrp", "varp"] = "vrrp"
    version: int = 3
    local_address: ipaddress.IPv4Interface | None = None  # the member's own address on the interface

    def __post_init__(self) -> None:
        if not isinstance(self.interface, str) or not _IFACE.match(self.interface):
            raise TemplateError(f"invalid interface name {self.interface!r}")
        if self.vrid is not None and (type(self.vrid) is not int or not 1 <= self.vrid <= 255):
            raise TemplateError(f"invalid VRID {self.vrid!r} (1-255)")
        if self.priority is not None and (type(self.priority) is not int or not 1 <= self.priority <= 254):
            raise TemplateError(f"invalid priority {self.priority!r} (1-254)")
        for name in ("address", "local_address"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, ipaddress.IPv4Interface):
                raise TemplateError(f"invalid {name} {value!r}")
        if self.mode not in ("vrrp", "static"):
            raise TemplateError(f"invalid mode {self.mode!r}")
        if self.protocol not in ("vrrp", "hsrp", "varp"):
            raise TemplateError(f"invalid protocol {self.protocol!r}")
        if self.version not in (2, 3):
            raise TemplateError(f"invalid VRRP version {self.version!r}")


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
        self.env = jinja2.Environment(
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
        try:
            template = self.env.get_template(f"{operation}.j2")
            text = template.render(**values.__dict__)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"platform {self.platform}: no template {operation}.j2") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"platform {self.platform}: template {operation}.j2: {exc}") from None
        lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
        for ln in lines:
            if not _SAFE_LINE.match(ln):
                raise TemplateError(f"platform {self.platform}: {operation}.j2 rendered an unsafe line {ln!r}")
        return lines
