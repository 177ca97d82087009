"""Shared vendor-driver logic: config pushes through NAPALM, and small parsing helpers.

Reads go over the base class's netmiko session (:class:`~netha.transport.ssh.SshChannel`); changes
go through NAPALM (``load_merge_candidate`` / ``load_replace_candidate`` -> ``compare_config`` ->
``commit_config``, ``discard_config`` on failure), so the device's own candidate/commit machinery
(EOS config sessions, Junos commit, IOS ``configure replace``, NX-OS checkpoints) protects a change.
The NAPALM connection is opened on the first push and closed with the driver.

This module is not a platform (it exports no ``Driver``); the platform modules mix
:class:`NapalmPushMixin` into :class:`~netha.drivers.base.NetworkDriver`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

from netutils.lib_mapper import NAPALM_LIB_MAPPER_REVERSE

from ..errors import CommandRejected, ConnectionFailed, DeviceError

log = logging.getLogger(__name__)

# -- parsing helpers ----------------------------------------------------------------------------

def as_list(value: Any) -> list:
    """NX-OS (and Junos) print one row as an object and several as a list: always a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def table_rows(data: Any, table: str, row: str) -> list[dict]:
    """Rows of an NX-OS ``TABLE_x`` / ``ROW_x`` structure, whichever of them are lists."""
    rows: list[dict] = []
    for t in as_list(data.get(table) if isinstance(data, dict) else None):
        if isinstance(t, dict):
            rows += [r for r in as_list(t.get(row)) if isinstance(r, dict)]
    return rows


def prefix_of(address: str, mask: str | int) -> str:
    """'198.18.1.2', '255.255.255.0' (or 24) -> '198.18.1.2/24'."""
    import ipaddress

    return ipaddress.IPv4Interface(f"{address}/{mask}").with_prefixlen


_VRID = re.compile(r"[0-9]{1,3}", re.ASCII)  # "²".isdigit() is true; a VRID is ASCII digits


def shutdown_vrrp_groups(config: str, family: int = 4) -> set[tuple[str, int]]:
    """(interface, VRID) of the VRRP groups of ``family`` (4 or 6) that a Cisco-style running config
    shuts down.

    IPv4: IOS ``vrrp N shutdown``, and ``shutdown`` inside a ``vrrp N address-family ipv4`` (IOS-XE
    VRRPv3), ``vrrp N`` or ``vrrpv3 N address-family ipv4`` (NX-OS) block of an interface. IPv6: ``shutdown``
    inside a ``vrrp N address-family ipv6`` (IOS-XE) or ``vrrpv3 N address-family ipv6`` (NX-OS) block.
    The structured outputs do not say whether a group in Init was shut down on purpose (a resigned
    master) or is down for another reason; the configuration does.
    """
    shut: set[tuple[str, int]] = set()
    iface: str | None = None
    group: int | None = None
    group_indent = 0
    block = ["address-family", f"ipv{family}"]
    for raw in config.replace("\r", "").splitlines():
        words = raw.split()
        if not words or words[0].startswith("!"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if indent == 0:
            iface = words[1] if words[0] == "interface" and len(words) == 2 else None
            group = None
            continue
        if iface is None:
            continue
        if group is not None and indent > group_indent:
            if words == ["shutdown"]:
                shut.add((iface, group))
            continue
        group = None
        if words[0] in ("vrrp", "vrrpv3") and len(words) >= 2 and _VRID.fullmatch(words[1]) and 1 <= int(words[1]) <= 255:
            vrid = int(words[1])
            rest = [w.lower() for w in words[2:]]
            if rest == ["shutdown"] and family == 4:
                shut.add((iface, vrid))
            elif (not rest and family == 4) or rest == block:
                group, group_indent = vrid, indent
    return shut


def mark_shutdown(views: list, shut: set[tuple[str, int]]) -> list:
    """The views with ``shutdown=True`` for the (interface, VRID) pairs in ``shut``."""
    import dataclasses

    return [dataclasses.replace(v, shutdown=True) if (v.interface, v.vrid) in shut else v for v in views]


# -- NAPALM -------------------------------------------------------------------------------------

# Exception class names (anywhere in the MRO) that mean "the session is gone", from NAPALM,
# netmiko, paramiko, ncclient and PyEZ; anything else a device raised is a rejected change.
_CONNECTION_ERRORS = frozenset({
    "ConnectionException", "ConnectionClosedException", "ConnectAuthError", "ConnectError",
    "ConnectClosedError", "ConnectTimeoutError", "NetmikoTimeoutException",
    "NetmikoAuthenticationException", "SSHException", "ReadTimeout", "TransportError",
})


def napalm_driver_name(platform: str, transport: str = "") -> str:
    """NAPALM's driver for a netutils platform name (``cisco_nxos`` -> ``nxos``), from netutils.

    ``transport="ssh"`` picks NAPALM's SSH variant of that driver where it has one (``nxos_ssh``).
    """
    try:
        name = NAPALM_LIB_MAPPER_REVERSE[platform]
    except KeyError:
        raise DeviceError(platform, f"NAPALM has no driver for platform {platform!r}") from None
    if transport == "ssh":
        from napalm._SUPPORTED_DRIVERS import SUPPORTED_DRIVERS

        if f"{name}_ssh" in SUPPORTED_DRIVERS:
            return f"{name}_ssh"
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0] if len(lines) == 1 else " / ".join(lines[:3]))[:300]


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, EOFError)):
        return True
    return any(cls.__name__ in _CONNECTION_ERRORS for cls in type(exc).__mro__)


class NapalmPushMixin:
    """Pushes through NAPALM. Mix in before :class:`NetworkDriver`: ``class X(NapalmPushMixin, NetworkDriver)``.

    A platform may set ``napalm_transport = "ssh"`` to use NAPALM's SSH variant of its driver,
    ``napalm_extra_args`` for driver-specific optional args, and ``atomic_commit`` when a failed
    commit leaves nothing applied (EOS config sessions, Junos).
    """

    napalm_transport: str = ""
    napalm_extra_args: dict[str, Any] = {}
    atomic_commit: bool = False
    napalm_timeout: int = 60

    _napalm: Any = None
    _napalm_tmpdir: tempfile.TemporaryDirectory | None = None

    # attributes of NetworkDriver this mixin relies on
    name: str
    params: Any
    spec: Any
    stable_config: Any

    # -- connection ----------------------------------------------------------------------------
    @property
    def napalm_driver(self) -> str:
        return napalm_driver_name(self.spec.name, self.napalm_transport)

    def napalm_optional_args(self) -> dict[str, Any]:
        """netmiko-style connection arguments (NAPALM's IOS, EOS-over-SSH and NX-OS-SSH drivers take these)."""
        p = self.params
        args: dict[str, Any] = {
            "port": p.port,
            "ssh_strict": p.strict_host_key_checking,
            "system_host_keys": False,
            "alt_host_keys": p.known_hosts is not None,
            "alt_key_file": str(p.known_hosts) if p.known_hosts else "",
            "allow_agent": False,
            "conn_timeout": p.timeout,
        }
        if p.key_file:
            args.update(key_file=str(p.key_file), use_keys=True)
        args.update(self.napalm_extra_args)
        return args

    def prepare_napalm(self, device: Any) -> None:  # noqa: B027 - optional hook
        """Hook: adjust the NAPALM driver object after it is built and before it is opened."""

    def napalm_device(self) -> Any:
        """The open NAPALM connection (opened on first use)."""
        if self._napalm is not None:
            return self._napalm
        from napalm import get_network_driver

        p = self.params
        driver = self.napalm_driver
        try:
            cls = get_network_driver(driver)
            dev = cls(hostname=p.host, username=p.username, password=p.password or "",
                      timeout=self.napalm_timeout, optional_args=self.napalm_optional_args())
            self.prepare_napalm(dev)
            dev.open()
        except Exception as exc:  # noqa: BLE001 - every library has its own exceptions
            self._cleanup_napalm_files()
            from ..transport.ssh import host_key_failure

            raise host_key_failure(exc, p) or ConnectionFailed(
                self.name, f"NAPALM ({driver}) session to {p.host}:{p.port} failed: {_first_line(exc)}") from None
        self._napalm = dev
        log.debug("%s: NAPALM session open (%s)", self.name, driver)
        return dev

    def close_napalm(self) -> None:
        dev, self._napalm = self._napalm, None
        if dev is not None:
            try:
                dev.close()
            except Exception:  # noqa: BLE001 - closing a dead session must never raise
                pass
        self._cleanup_napalm_files()

    def _cleanup_napalm_files(self) -> None:
        tmp, self._napalm_tmpdir = self._napalm_tmpdir, None
        if tmp is not None:
            tmp.cleanup()

    def napalm_private_file(self, name: str, text: str) -> str:
        """Write a 0600 file that lives as long as the NAPALM session (e.g. an ssh_config)."""
        if self._napalm_tmpdir is None:
            self._napalm_tmpdir = tempfile.TemporaryDirectory(prefix="netha-napalm-")
        path = os.path.join(self._napalm_tmpdir.name, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return path

    def close(self) -> None:
        self.close_napalm()
        super().close()  # type: ignore[misc]

    # -- errors ------------------------------------------------------------------------------------
    def _push_error(self, stage: str, exc: BaseException) -> DeviceError:
        if isinstance(exc, DeviceError):
            return exc
        if is_connection_error(exc):
            self.close_napalm()
            return ConnectionFailed(self.name, f"NAPALM session lost during {stage}: {_first_line(exc)}")
        return CommandRejected(self.name, f"{stage} rejected: {_first_line(exc)}")

    def _discard(self, dev: Any) -> None:
        try:
            dev.discard_config()
        except Exception as exc:  # noqa: BLE001 - the original error is the one to report
            log.warning("%s: discard_config after a failed change also failed: %s", self.name, _first_line(exc))

    # -- changes -----------------------------------------------------------------------------------
    def candidate_text(self, lines: Sequence[str]) -> str:
        prefixes = tuple(self.spec.comment_prefixes)
        keep = [ln.rstrip() for ln in lines if ln.strip() and not ln.lstrip().startswith(prefixes)]
        return "\n".join(keep) + "\n" if keep else ""

    def _apply(self, stage: str, load, config: str) -> str:
        dev = self.napalm_device()
        try:
            load(dev, config)
            diff = dev.compare_config() or ""
        except Exception as exc:  # noqa: BLE001
            err = self._push_error(stage, exc)
            if self._napalm is not None:
                self._discard(dev)
            raise err from None
        if not diff.strip():
            self._discard(dev)
            log.info("%s: %s: nothing to change", self.name, stage)
            return ""
        try:
            dev.commit_config()
        except Exception as exc:  # noqa: BLE001
            err = self._push_error(f"{stage} commit", exc)
            if self._napalm is not None:
                # EOS/Junos commits are all-or-nothing; NAPALM's IOS and NX-OS drivers roll a failed
                # merge back themselves. Either way nothing is left pending in the candidate.
                self._discard(dev)
            raise err from None
        return diff

    def load_config(self, lines: Sequence[str]) -> str:
        """Merge ``lines`` into the running config (one commit). Returns the device's diff."""
        config = self.candidate_text(lines)
        if not config:
            return ""
        return self._apply("merge", lambda dev, cfg: dev.load_merge_candidate(config=cfg), config)

    def replace_config(self, config: str) -> None:
        """Make the running config equal ``config`` with the device's own replace (NAPALM ``load_replace_candidate``)."""
        body = self.stable_config(config)
        if not body.strip():
            raise CommandRejected(self.name, "refusing to replace the running config with an empty one")
        self._apply("replace", lambda dev, cfg: dev.load_replace_candidate(config=cfg), body)
