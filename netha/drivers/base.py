"""One driver interface for every platform (as NAPALM's ``NetworkDriver``).

A platform is mostly data (:class:`PlatformSpec`: prompt, error strings, netmiko type) plus the
getters and the config push that this base class declares. Everything platform-specific,
commands and parsing included, lives in ``netha/drivers/<platform>.py``; the controller core
only ever calls the methods below.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CommandRejected, ParseError
from ..observe.types import VrrpView
from ..transport.ssh import SshChannel, SshParams

log = logging.getLogger(__name__)


def load_json(text: str, device: str, what: str) -> Any:
    """The first JSON value in ``text`` (devices print banners before it and prompts after it)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ParseError(device, f"{what}: no JSON in output: {text.strip()[:80]!r}")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[min(starts):])
    except json.JSONDecodeError as exc:
        raise ParseError(device, f"{what}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    return value


@dataclass(frozen=True)
class PlatformSpec:
    """The data that makes a platform: how its CLI looks and how it says no."""

    name: str
    netmiko_device_type: str
    prompt_pattern: str  # matches a whole prompt line, in any mode
    error_patterns: tuple[str, ...]  # a line of output matching one means the command was rejected
    config_enter: tuple[str, ...] = ("configure terminal",)
    config_exit: tuple[str, ...] = ("end",)
    comment_prefixes: tuple[str, ...] = ("!",)


@dataclass(frozen=True)
class DeviceReading:
    """One poll of one device over its CLI: everything the health model needs from it."""

    vrrp: tuple[VrrpView, ...]
    interfaces: dict[str, bool]
    routes: dict[str, bool]
    addresses: dict[str, tuple[str, ...]]  # interface -> its IPv4 addresses with prefix length


class NetworkDriver(ABC):
    """Base class of every platform driver. One instance per device, one session per instance."""

    spec: PlatformSpec

    def __init__(self, params: SshParams):
        self.params = params
        self.name = params.device
        self.channel = SshChannel(params, self.spec.prompt_pattern)

    # -- session ----------------------------------------------------------------------------
    def open(self) -> None:
        self.channel.open()
        self.prepare_session()

    def prepare_session(self) -> None:  # noqa: B027 - optional hook
        """Hook: platform commands to run once after login (paging off is netmiko's job)."""

    def close(self) -> None:
        self.channel.close()

    @property
    def is_open(self) -> bool:
        return self.channel.is_open

    def __enter__(self) -> NetworkDriver:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for subclasses ----------------------------------------------------------------
    def run(self, command: str, timeout: float | None = None) -> str:
        return self.channel.run(command, timeout)

    def rejected_line(self, output: str) -> str | None:
        """The first line of ``output`` that says the device refused the command, if any."""
        for line in output.splitlines():
            for pat in self.spec.error_patterns:
                if re.search(pat, line):
                    return line.strip()
        return None

    def run_checked(self, command: str, timeout: float | None = None) -> str:
        out = self.run(command, timeout)
        bad = self.rejected_line(out)
        if bad:
            raise CommandRejected(self.name, f"{command!r} rejected: {bad}")
        return out

    # -- getters ---------------------------------------------------------------------------------
    @abstractmethod
    def get_vrrp(self) -> list[VrrpView]:
        """Every VRRP instance of the device, as the device sees it."""

    @abstractmethod
    def get_interfaces(self) -> dict[str, bool]:
        """Interface name -> operationally up."""

    @abstractmethod
    def get_interface_details(self) -> dict[str, dict[str, object]]:
        """Interface name -> {"mac": "aa:bb:..." or None, "addresses": ["198.18.1.2/24", ...]}."""

    @abstractmethod
    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        """Prefix -> present in the routing table (exact prefix, any protocol)."""

    @abstractmethod
    def get_config(self) -> str:
        """The running configuration, as text."""

    def read(self, routes: Sequence[str] = ()) -> DeviceReading:
        """One poll: VRRP, interfaces and the tracked routes. Drivers may batch this."""
        details = self.get_interface_details()
        return DeviceReading(
            vrrp=tuple(self.get_vrrp()),
            interfaces=self.get_interfaces(),
            routes=self.get_routes(routes) if routes else {},
            addresses={k: tuple(v.get("addresses", ())) for k, v in details.items()},  # type: ignore[arg-type]
        )

    # -- changes -------------------------------------------------------------------------------
    def load_config(self, lines: Sequence[str]) -> str:
        """Enter config mode, send ``lines`` one at a time, leave. Stops at the first rejected line."""
        transcript: list[str] = []
        for cmd in self.spec.config_enter:
            transcript.append(self.run_checked(cmd))
        try:
            for line in lines:
                if not line.strip() or line.lstrip().startswith(self.spec.comment_prefixes):
                    continue
                transcript.append(self.run_checked(line))
        finally:
            for cmd in self.spec.config_exit:
                if self.channel.is_open:
                    self.run(cmd)
        return "\n".join(t for t in transcript if t)

    @abstractmethod
    def replace_config(self, config: str) -> None:
        """Make the running configuration equal ``config`` (used by rollback and restore)."""
