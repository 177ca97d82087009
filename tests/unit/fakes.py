"""An in-memory network for unit tests of the executor and the controller: no device, no SSH.

- :class:`FakeDevice` is one router: its running config (FRR-like text, the single source of
  truth: VRRP priorities and shutdowns are read from it), its links, and fault switches.
- :class:`FakeDriver` is one *session* to a device (a :class:`netha.drivers.NetworkDriver`), made
  by :meth:`FakeNetwork.factory`, the factory :class:`netha.takeover.execute.Sessions` accepts. A
  dropped session stays dropped (``is_open`` False); the next ``Sessions.session()`` logs in anew.
- :class:`Segment` is VRRP on the wire, simplified: per VRID, among the devices whose instance
  is configured, not shut down, on a link that is up and whose VRRP runs, the highest priority is
  master (ties: the higher device name, as the higher address wins in VRRP).
"""

from __future__ import annotations

import socket

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netha.drivers import NetworkDriver, PlatformSpec
from netha.drivers.changes import ChangeValues
from netha.errors import CommandRejected, ConnectionFailed
from netha.inventory import Inventory
from netha.observe.types import DeviceObservation, ProbeResult, Snapshot, VrrpView

_VRRP = re.compile(r"vrrp (\d+)\b")
_PRIO = re.compile(r"vrrp (\d+) priority (\d+)$")
_SHUT = re.compile(r"vrrp (\d+) shutdown$")
_VIP = re.compile(r"vrrp (\d+) ip (\S+)$")


# -- config text ------------------------------------------------------------------------------------

def parse(text: str) -> list[tuple[str, list[str]]]:
    """Top-level lines with their indented children, in order (``!``, ``end``, ``exit`` dropped)."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.strip() in ("!", "end"):
            continue
        if line.strip() == "exit":
            current = None
        elif line.startswith((" ", "\t")) and current is not None:
            current.append(line.strip())
        else:
            blocks.append((line.strip(), []))
            current = blocks[-1][1] if line.startswith("interface ") else None
    return blocks


def render(blocks: list[tuple[str, list[str]]]) -> str:
    out: list[str] = []
    for head, children in blocks:
        out.append(head)
        if head.startswith("interface "):
            out += [f" {c}" for c in children]
            out.append("exit")
    return "\n".join(out) + "\n"


def _set_child(children: list[str], line: str) -> None:
    """One FRR interface command: set a value (replacing the old one), add, or remove with ``no``."""
    if line.startswith("no "):
        gone = line[3:]
        m = _PRIO.match(gone) or re.match(r"vrrp (\d+) priority$", gone)
        if m:
            children[:] = [c for c in children if not c.startswith(f"vrrp {m.group(1)} priority ")]
        else:
            children[:] = [c for c in children if c != gone]
        return
    m = _PRIO.match(line)
    if m:
        for i, c in enumerate(children):
            if c.startswith(f"vrrp {m.group(1)} priority "):
                children[i] = line
                return
    if line not in children:
        children.append(line)


def frr_config(name: str, interfaces: dict[str, list[str]]) -> str:
    blocks: list[tuple[str, list[str]]] = [("frr version 8.4.4", []), ("frr defaults traditional", []),
                                           (f"hostname {name}", [])]
    blocks += [(f"interface {iface}", list(children)) for iface, children in interfaces.items()]
    return render(blocks)


# -- the wire -------------------------------------------------------------------------------------------

class Segment:
    """VRRP across the fake devices: the highest running priority per VRID is master."""

    def __init__(self) -> None:
        self.devices: dict[str, FakeDevice] = {}

    def master(self, vrid: int) -> str | None:
        best: tuple[int, str] | None = None
        for dev in self.devices.values():
            if not dev.vrrp_running:
                continue
            for (iface, v), (prio, shut, _vips) in dev.instances().items():
                if v != vrid or shut or not dev.links.get(iface, True):
                    continue
                if best is None or (prio, dev.name) > best:
                    best = (prio, dev.name)
        return best[1] if best else None


# -- one device ---------------------------------------------------------------------------------------

@dataclass
class FakeDevice:
    name: str
    config: str
    segment: Segment
    links: dict[str, bool] = field(default_factory=dict)  # interface -> carrier (missing: up)
    vrrp_running: bool = True  # False: the router is dead to VRRP (powered off)
    # -- fault switches --
    reject: set[str] = field(default_factory=set)  # a pushed line containing one of these is refused
    drop_pushes: int = 0  # the next N pushes drop the session (ConnectionFailed, is_open False)
    drop_after_lines: int = 0  # lines a dropping push applies before the drop
    vrrp_bug: int = 0  # the next N get_vrrp calls raise ValueError (a parser bug)
    push_bug: BaseException | None = None  # raised by every push (a driver bug)
    replace_bug: BaseException | None = None  # raised by the next replace_config (then cleared)
    unreachable: int = 0  # the next N calls (login included) fail with ConnectionFailed
    down: bool = False  # every call fails with ConnectionFailed until cleared
    # -- what happened --
    logins: int = 0
    calls: list[str] = field(default_factory=list)  # every operation, in order
    pushes: list[tuple[str, ...]] = field(default_factory=list)  # load_config calls (lines)
    changes: list[tuple[str, ChangeValues]] = field(default_factory=list)  # apply_change calls (then pushed as lines)
    replaces: list[str] = field(default_factory=list)  # replace_config calls (configs)
    _context: str | None = field(default=None, repr=False)  # the interface a push is in

    def __post_init__(self) -> None:
        self.segment.devices[self.name] = self

    @property
    def writes(self) -> int:
        return len(self.pushes) + len(self.replaces)

    def reach(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise ConnectionFailed(self.name, f"{what}: timed out (device down)")
        if self.unreachable > 0:
            self.unreachable -= 1
            raise ConnectionFailed(self.name, f"{what}: timed out")

    def instances(self) -> dict[tuple[str, int], tuple[int, bool, tuple[str, ...]]]:
        """(interface, vrid) -> (priority, shutdown, virtual addresses), from the config text."""
        out: dict[tuple[str, int], tuple[int, bool, tuple[str, ...]]] = {}
        for head, children in parse(self.config):
            if not head.startswith("interface "):
                continue
            iface = head.split(None, 1)[1]
            for vrid in sorted({int(m.group(1)) for c in children if (m := _VRRP.match(c))}):
                prio, shut, vips = 100, False, []
                for c in children:
                    if (m := _PRIO.match(c)) and int(m.group(1)) == vrid:
                        prio = int(m.group(2))
                    elif (m := _SHUT.match(c)) and int(m.group(1)) == vrid:
                        shut = True
                    elif (m := _VIP.match(c)) and int(m.group(1)) == vrid:
                        vips.append(m.group(2))
                out[(iface, vrid)] = (prio, shut, tuple(vips))
        return out

    def apply(self, line: str) -> None:
        """One config-mode line, as vtysh would take it (the context is kept in ``_context``)."""
        blocks = parse(self.config)
        text = line.strip()
        if text == "exit":
            self._context = None
            return
        if text.startswith("interface "):
            if not any(h == text for h, _ in blocks):
                blocks.append((text, []))
            self._context = text
        elif line.startswith((" ", "\t")) or self._context:
            ctx = self._context
            if ctx is None:
                raise CommandRejected(self.name, f"{text!r} rejected: % Unknown command (no context)")
            for h, children in blocks:
                if h == ctx:
                    _set_child(children, text)
        elif text.startswith("no "):
            blocks = [(h, c) for h, c in blocks if h != text[3:]]
        elif not any(h == text for h, _ in blocks):
            blocks.append((text, []))
        self.config = render(blocks)

    def vrrp(self) -> list[VrrpView]:
        views = []
        for (iface, vrid), (prio, shut, vips) in self.instances().items():
            if shut or not self.links.get(iface, True) or not self.vrrp_running:
                state = "init"
            else:
                state = "master" if self.segment.master(vrid) == self.name else "backup"
            views.append(VrrpView(vrid, iface, state, prio, prio, vips, advert_interval=0.1, shutdown=shut))  # type: ignore[arg-type]
        return views


FAKE_SPEC = PlatformSpec("fake", "fake", r"^\S+# ?$", (r"% Unknown command",))


class FakeDriver(NetworkDriver):
    """One session to a :class:`FakeDevice`."""

    spec = FAKE_SPEC

    def __init__(self, device: FakeDevice):  # no SshParams, no channel
        self.device = device
        self.name = device.name
        self.params = None  # type: ignore[assignment]
        self._open = False

    # -- session --
    def open(self) -> None:
        self.device.reach("open")
        self.device.logins += 1
        self._open = True

    def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def _call(self, what: str) -> FakeDevice:
        if not self._open:
            raise ConnectionFailed(self.name, f"{what}: session is closed")
        try:
            self.device.reach(what)
        except ConnectionFailed:
            self._open = False
            raise
        return self.device

    # -- getters --
    def get_config(self) -> str:
        return self._call("get_config").config

    def get_vrrp(self) -> list[VrrpView]:
        dev = self._call("get_vrrp")
        if dev.vrrp_bug > 0:
            dev.vrrp_bug -= 1
            raise ValueError("invalid literal for int() with base 10: '²'")
        return dev.vrrp()

    def get_interfaces(self) -> dict[str, bool]:
        dev = self._call("get_interfaces")
        names = [h.split(None, 1)[1] for h, _ in parse(dev.config) if h.startswith("interface ")]
        return {n: dev.links.get(n, True) for n in names}

    def get_interface_details(self) -> dict[str, dict[str, object]]:
        dev = self._call("get_interface_details")
        out: dict[str, dict[str, object]] = {}
        for i, (h, children) in enumerate(b for b in parse(dev.config) if b[0].startswith("interface ")):
            out[h.split(None, 1)[1]] = {
                "mac": f"02:00:00:00:{sum(map(ord, dev.name)) % 256:02x}:{i:02x}",
                "addresses": [c.split()[2] for c in children if c.startswith("ip address ")],
            }
        return out

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        dev = self._call("get_routes")
        return {p: dev.links.get("eth2", True) for p in prefixes}

    # -- changes --
    @classmethod
    def render_change(cls, operation, values, templates=None) -> list[str]:  # type: ignore[no-untyped-def]
        """A fake device speaks FRR's config language: its changes render with FRR's templates."""
        from netha.drivers.frr import FrrDriver

        return FrrDriver.render_change(operation, values, templates)

    def apply_change(self, operation, values) -> str:  # type: ignore[no-untyped-def]
        self.device.changes.append((operation, values))
        return super().apply_change(operation, values)

    def load_config(self, lines: Sequence[str]) -> str:
        dev = self._call("load_config")
        dev.pushes.append(tuple(lines))
        if dev.push_bug is not None:
            raise dev.push_bug
        dev._context = None
        for n, line in enumerate(lines):
            if dev.drop_pushes > 0 and n >= dev.drop_after_lines:
                dev.drop_pushes -= 1
                self._open = False
                raise ConnectionFailed(self.name, "session dropped (connection reset by peer)")
            if not line.strip():
                continue
            if any(r in line for r in dev.reject):
                raise CommandRejected(self.name, f"{line.strip()!r} rejected: % Unknown command")
            dev.apply(line)
        return ""

    def replace_config(self, config: str) -> None:
        dev = self._call("replace_config")
        if dev.replace_bug is not None:
            exc, dev.replace_bug = dev.replace_bug, None
            raise exc
        dev.replaces.append(config)
        dev.config = config


# -- the network ----------------------------------------------------------------------------------------

class FakeNetwork:
    """Fake devices for the VRRP members of an inventory, and the factory for ``Sessions``."""

    def __init__(self, inv: Inventory, devices: Sequence[str] = ("r1", "r2")):
        self.inv = inv
        self.segment = Segment()
        self.devices: dict[str, FakeDevice] = {}
        self.drivers: list[FakeDriver] = []
        for name in devices:
            ifaces: dict[str, list[str]] = {}
            for g in inv.groups.values():
                if g.mode != "vrrp" or name not in {m.device for m in g.members}:
                    continue
                m = g.member(name)
                ifaces.setdefault(g.interface_of(name), []).extend(
                    [f"vrrp {g.vrid} version 3", f"vrrp {g.vrid} priority {m.priority}"]
                    + [f"vrrp {g.vrid} ip {v.ip}" for v in g.virtual_addresses])
            self.devices[name] = FakeDevice(name, frr_config(name, ifaces), self.segment)

    def __getitem__(self, name: str) -> FakeDevice:
        return self.devices[name]

    def factory(self, inv: Inventory, name: str) -> FakeDriver:
        if name not in self.devices:
            raise ConnectionFailed(name, "no such fake device")
        drv = FakeDriver(self.devices[name])
        self.drivers.append(drv)
        return drv

    def configs(self) -> dict[str, str]:
        return {n: d.config for n, d in self.devices.items()}

    def master(self, vrid: int) -> str | None:
        return self.segment.master(vrid)

    def snapshot(self, at: float) -> Snapshot:
        """What the observer would see now: each device polled once (VRRP, links, tracked routes)."""
        devs: dict[str, DeviceObservation] = {}
        for name, dev in self.devices.items():
            if dev.down:
                bad = ProbeResult(False, at, "timed out")
                devs[name] = DeviceObservation(name, ssh=bad, snmp=bad)
                continue
            ok = ProbeResult(True, at)
            ifaces = {h.split(None, 1)[1] for h, _ in parse(dev.config) if h.startswith("interface ")}
            devs[name] = DeviceObservation(
                name, ssh=ok, snmp=ok, vrrp=tuple(dev.vrrp()),
                interfaces={i: dev.links.get(i, True) for i in sorted(ifaces)},
                routes={"198.18.2.0/24": dev.links.get("eth2", True), "198.18.5.0/24": True},
            )
        return Snapshot(at=at, wall=at, devices=devs)


Hook = Callable[[str], None]


class Crash(BaseException):
    """The controller dies here (as kill -9 would: no ``except Exception`` sees it, nothing closes)."""


def crash_at(point: str, then: Callable[[], None] | None = None) -> Hook:
    """A test hook that kills the plan at ``point`` (after running ``then``, if given)."""

    def hook(reached: str) -> None:
        if reached == point:
            if then is not None:
                then()
            raise Crash(point)

    return hook


def call_at(point: str, fn: Callable[[], None]) -> Hook:
    """A test hook that runs ``fn`` at ``point`` and lets the plan go on."""

    def hook(reached: str) -> None:
        if reached == point:
            fn()

    return hook


class FakeChannel:
    """The parts of a paramiko Channel an exec-channel reader (a path prober, an event stream) uses, on a socket pair (select() works on it)."""

    def __init__(self):
        self.ours, self.theirs = socket.socketpair()
        self.exit_status: int | None = None

    def fileno(self):
        return self.ours.fileno()

    def recv(self, n):
        try:
            return self.ours.recv(n)
        except OSError:
            return b""

    def exit_status_ready(self):
        return self.exit_status is not None

    def recv_exit_status(self):
        return self.exit_status

    def close(self):
        self.ours.close()

    # the device's side
    def say(self, *lines: str) -> None:
        self.theirs.sendall("".join(line + "\n" for line in lines).encode())

    def end(self, status: int) -> None:
        self.exit_status = status
        self.theirs.close()
