"""One driver interface for every platform (as NAPALM's ``NetworkDriver``).

A platform is mostly data (:class:`PlatformSpec`: prompt, error strings, netmiko type) plus the
getters and the config push that this base class declares. Everything platform-specific,
commands and parsing included, lives in ``netha/drivers/<platform>.py``; the controller core
only ever calls the methods below.
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
import json
import logging
import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from ..errors import CommandRejected, NethaError, NotSupported, ParseError, TemplateError
from ..transport.ssh import SshChannel, SshParams
from .changes import OPERATIONS, ChangeValues, Operation, check_operation
from .linux import reach_stream as linux_stream
from .models import DeviceReading, InterfaceDetails, ParseNotes, ProbeStream, ReachProbe, ReachReading, VrrpView
from .render import renderer
from .textconfig import config_body

log = logging.getLogger(__name__)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a device prints")


def load_json(text: str, device: str, what: str) -> Any:
    """The first JSON value in ``text`` (devices print banners before it and prompts after it).

    Anything that is not plain JSON is a :class:`ParseError`: invalid syntax, ``NaN``/``Infinity``,
    integers longer than Python converts (4,300 digits), nesting deeper than the decoder's recursion.
    """
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ParseError(device, f"{what}: no JSON in output: {text.strip()[:80]!r}")
    try:
        value, _ = json.JSONDecoder(parse_constant=_no_constant).raw_decode(text[min(starts):])
    except json.JSONDecodeError as exc:
        raise ParseError(device, f"{what}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # int() digit limit, NaN/Infinity
        raise ParseError(device, f"{what}: invalid JSON ({str(exc)[:80]})") from None
    except RecursionError:
        raise ParseError(device, f"{what}: invalid JSON (nested too deeply)") from None
    return value


# -- checked values: what a parser may hand on ---------------------------------------------------

_INT = re.compile(r"\s*([+-]?)([0-9]+)\s*", re.ASCII)
_FLOAT = re.compile(r"\s*[+-]?[0-9]{1,18}(?:\.[0-9]{1,18})?\s*", re.ASCII)
TOO_BIG = 10**18  # a device number longer than 18 digits: beyond every bound the parsers check


def as_int(value: object) -> int | None:
    """An integer a device printed: a JSON integer, an integral float, or ASCII digits; else None.

    ``str.isdigit()`` is true for "²" and "٣"; device numbers are ASCII, so those are not numbers
    here. A number of more than 18 digits comes back as ``±TOO_BIG`` (int() refuses 4,300 digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < TOO_BIG else None
    if isinstance(value, str):
        m = _INT.fullmatch(value)
        if m is None:
            return None
        digits = m.group(2).lstrip("0") or "0"
        n = TOO_BIG if len(digits) > 18 else int(digits)
        return -n if m.group(1) == "-" else n
    return None


def as_float(value: object) -> float | None:
    """A finite number a device printed (JSON number or ASCII decimal); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < TOO_BIG else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        return float(value)
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def need_object(value: object, device: str, what: str) -> dict:
    """``value`` as a JSON object, or a ParseError naming the device and the command."""
    if not isinstance(value, dict):
        raise ParseError(device, f"{what}: expected an object, got {type(value).__name__}")
    return value


def need_int(value: object, device: str, what: str, name: str, lo: int, hi: int) -> int:
    """``value`` as an integer in ``lo..hi``, or a :class:`ParseError` naming the field."""
    n = as_int(value)
    if n is None or not lo <= n <= hi:
        raise ParseError(device, f"{what}: {name} {_shown(value)} is not an integer in {lo}..{hi}")
    return n


def opt_int(value: object, device: str, what: str, name: str, lo: int, hi: int) -> int | None:
    """As :func:`need_int`, but a missing value (None or empty) is None."""
    if value is None or value == "":
        return None
    return need_int(value, device, what, name, lo, hi)


COUNTER_MAX = 2**64 - 1
MAX_ADVERT_INTERVAL = 255.0  # seconds: VRRPv2's largest (VRRPv3's is 40.95)


def link_local_first(addresses: Sequence[str]) -> tuple[str, ...]:
    """An IPv6 group's virtual addresses as RFC 5798 orders them: the link-local one first (a VRRPv3
    advertisement's first IPv6 address; HSRP's primary), the others in the order the device printed
    them. Duplicates are dropped; IPv4 addresses keep their order."""
    unique = list(dict.fromkeys(addresses))

    def is_link_local(a: str) -> bool:
        try:
            return ipaddress.ip_address(a).is_link_local and ":" in a
        except ValueError:
            return False

    return tuple([a for a in unique if is_link_local(a)] + [a for a in unique if not is_link_local(a)])


def checked_view(view: VrrpView, device: str, what: str, vrids: tuple[int, int] = (1, 255)) -> VrrpView:
    """``view`` when every field is of its type and in its range; else a :class:`ParseError`.

    VRRP VRIDs are 1..255; HSRP groups (``vrids=(0, 4095)``) and EOS VARP (0) differ.
    """
    def bad(name: str, value: object) -> ParseError:
        return ParseError(device, f"{what}: {name} {_shown(value)} is out of range")

    def is_int(value: object, lo: int, hi: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    if not is_int(view.vrid, *vrids):
        raise bad("group", view.vrid)
    if not isinstance(view.interface, str) or not view.interface.strip():
        raise bad("interface", view.interface)
    for name in ("priority", "effective_priority"):
        value = getattr(view, name)
        if value is not None and not is_int(value, 0, 255):
            raise bad(name, value)
    for name in ("adverts_rx", "adverts_tx", "transitions"):
        value = getattr(view, name)
        if value is not None and not is_int(value, 0, COUNTER_MAX):
            raise bad(name, value)
    iv = view.advert_interval
    if iv is not None and not (isinstance(iv, float) and math.isfinite(iv) and 0 < iv <= MAX_ADVERT_INTERVAL):
        raise bad("advertisement interval", iv)
    if not all(isinstance(a, str) for a in view.virtual_addresses):
        raise bad("virtual address", view.virtual_addresses)
    if view.master_address is not None and not isinstance(view.master_address, str):
        raise bad("master address", view.master_address)
    return view


# -- what a parser skips ------------------------------------------------------------------------------

_NOTES: ContextVar[ParseNotes | None] = ContextVar("netha_parse_notes", default=None)

# skip_group's warnings, deduplicated: (device, command) -> the reasons logged at warning. A poll every
# second must not write the same warning every second: a (device, command, reason) is logged at warning
# once, then at debug as long as every poll of the device reports it (see collecting_notes' ``device``);
# a new reason is a warning, and so is an old one that went away and came back.
_WARNED: dict[tuple[str, str], set[str]] = {}
_WARNED_LOCK = threading.Lock()


@contextmanager
def collecting_notes(device: str | None = None) -> Iterator[ParseNotes]:
    """Collect what the parsers called inside the block skipped (a driver's ``read`` wraps one poll).

    With ``device`` (the poll of that device), the reasons :func:`skip_group` gave for the device
    before and did not give inside the block are forgotten: when one comes back, that is a warning
    again."""
    notes = ParseNotes()
    token = _NOTES.set(notes)
    ok = False
    try:
        yield notes
        ok = True
    finally:
        _NOTES.reset(token)
        if device is not None and ok:
            with _WARNED_LOCK:
                for key in [k for k in _WARNED if k[0] == device]:
                    _WARNED[key] &= {why for what, why in notes.unreadable if what == key[1]}
                    if not _WARNED[key]:
                        del _WARNED[key]


def skip_line(device: str, what: str, line: str) -> None:
    """A parser met a line it does not know inside a group it otherwise reads: skip it, never fail.

    Logged at debug (devices print many lines netha needs nothing from) and counted for ``status``."""
    log.debug("%s: %s: skipped a line netha does not read: %r", device, what, line[:200])
    notes = _NOTES.get()
    if notes is not None:
        notes.skipped_lines.append((what, line[:200]))


def skip_group(device: str, what: str, why: str) -> None:
    """A parser could not understand one group (or one command's whole output): the others are still read.

    Logged at warning the first time a (device, command) gives this reason, then at debug as long as
    the device's polls keep giving it (every poll counts it in ``status`` anyway)."""
    with _WARNED_LOCK:
        seen = _WARNED.setdefault((device, what), set())
        repeated = why in seen
        seen.add(why)
    log.log(logging.DEBUG if repeated else logging.WARNING, "%s: %s: %s%s", device, what, why,
            " (again)" if repeated else "")
    notes = _NOTES.get()
    if notes is not None:
        notes.unreadable.append((what, why))


# -- the parse boundary ------------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def parser(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function as the parser of a device's output of ``what`` (usually the command).

    The parsers validate what they read and raise :class:`ParseError` themselves; this is the
    safety net at the boundary: any other exception escaping the parser (a bug, on output nobody
    foresaw) becomes a ParseError naming the device (the parser's ``device`` argument) and
    ``what``, and is logged with its traceback so it can be fixed. The unwrapped function is
    ``fn.__wrapped__`` (the fuzz tests exercise that one).
    """
    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def parse(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (NethaError, MemoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - the boundary: whatever a parser bug raises
                try:
                    device = str(sig.bind(*args, **kwargs).arguments.get("device", "?"))
                except TypeError:
                    device = "?"
                log.warning("%s: %s: parser %s failed on unexpected output", device, what, fn.__qualname__, exc_info=True)
                raise ParseError(device, f"{what}: unexpected output ({type(exc).__name__}: {str(exc)[:80]})") from None
        return parse
    return wrap


# What a platform can do for a group: the first-hop protocols of 'vrrp'-mode groups (an inventory
# group's `protocol:`), and "static": moving a plain gateway address (`mode: static`).
GroupProtocol = Literal["vrrp", "hsrp", "varp", "static"]
PROTOCOLS: tuple[GroupProtocol, ...] = ("vrrp", "hsrp", "varp", "static")


@dataclass(frozen=True)
class PlatformSpec:
    """The data that makes a platform: how its CLI looks, how it says no, and what it supports."""

    name: str
    netmiko_device_type: str
    prompt_pattern: str  # matches a whole prompt line, in any mode
    error_patterns: tuple[str, ...]  # a line of output matching one means the command was rejected
    # What the driver and its templates can change: a change for anything else is refused by
    # NetworkDriver.render_change before a template sees it (HSRP on EOS, a static gateway on keepalived).
    protocols: frozenset[GroupProtocol] = frozenset({"vrrp"})
    # Which of ``protocols`` it can change in an IPv6 group (a group is one address family, RFC 5798):
    # None, all of them; a change of an IPv6 group for anything else is refused like a protocol it lacks.
    ipv6: frozenset[GroupProtocol] | None = None
    # Whether an IPv4 and an IPv6 group of one VRID on one interface are configured apart (their own
    # priority, preempt and shutdown). False where one `vrrp N` carries both families (FRR, EOS): a
    # resign of one would resign the other, so the inventory must give them different VRIDs.
    vrid_per_family: bool = True
    # Regexes (matched at a line's start, indentation allowed) of the lines the platform prints in
    # its running config that are not config and change without a config change: banners,
    # timestamps, commit stamps. Dropped before a config is stored or compared (stable_config).
    volatile_config: tuple[str, ...] = ()
    # Regexes of top-level lines the device writes itself and no command changes (FRR's
    # "frr version"): a replace computed from text (textconfig.replace_commands) leaves them alone.
    fixed_config: tuple[str, ...] = ()
    config_enter: tuple[str, ...] = ("configure terminal",)
    config_exit: tuple[str, ...] = ("end",)
    comment_prefixes: tuple[str, ...] = ("!",)
    # How the platform probes a forwarding path (reach tracking): "stream", a long-running prober
    # on a Linux shell reporting every reply (:meth:`NetworkDriver.reach_stream`); "native", the
    # device's own prober, configured from the driver's ``reach`` template and read by
    # :meth:`NetworkDriver.get_reach` (Cisco IP SLA, EOS monitor connectivity, Junos RPM); or "none".
    reach: Literal["stream", "native", "none"] = "none"
    # The CLI login is a Linux shell (keepalived): a stream prober runs over the same credentials.
    # Otherwise (FRR's vtysh) it needs the device's ``shell:`` credentials.
    login_is_shell: bool = False


@dataclass(frozen=True)
class DeviceEvent:
    """One change a device reported on its own (a line of its event stream): it wakes a read of the
    device, never a decision by itself."""

    kind: str  # "link", "address", "route", "vrrp", "heartbeat" (the stream is alive), "ready"
    interface: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class EventStream:
    """A long-running command on the device's shell that prints a line per change (``ip monitor``),
    and the parser of one line (None: no event; :class:`ParseError`: the stream itself failed)."""

    command: str
    parse: Callable[[str], DeviceEvent | None]
    heartbeat: float = 0.0  # seconds between the stream's own "alive" lines (0: it prints none)


# One element of a gNMI path as the device sent it: the element's name (a YANG module prefix such as
# ``openconfig-interfaces:`` already stripped) and its keys, sorted by key name.
GnmiElem = tuple[str, tuple[tuple[str, str], ...]]
GnmiEncoding = Literal["json", "json_ietf", "proto"]
GnmiTls = Literal["verify", "skip-verify", "insecure"]


@dataclass(frozen=True)
class GnmiSubscription:
    """A platform's gNMI event stream, as data: what netha subscribes to (``STREAM`` mode, every path
    ``ON_CHANGE``) and how one notification becomes a :class:`DeviceEvent` (:mod:`netha.observe.gnmi`
    runs it). Every field is the platform's default; a device's ``gnmi:`` block may override the
    port and the transport security."""

    paths: tuple[str, ...]  # xpaths, each subscribed ON_CHANGE ("/interfaces/interface/state/oper-status")
    # One update (value: the decoded TypedValue) or delete (value: None) at ``path`` -> an event, or
    # None: not one netha reads (an unknown path is ignored, never an error).
    parse: Callable[[tuple[GnmiElem, ...], object | None], DeviceEvent | None]
    port: int
    origin: str | None = None  # Path.origin on every subscribed path ("openconfig"); None: none sent
    encoding: GnmiEncoding = "json"
    tls: GnmiTls = "verify"  # the platform's usual server: TLS (verified) or plain text
    # Paths subscribed only when the device's VRRP events are on (the platform models VRRP state in
    # OpenConfig); ``gnmi: {vrrp: false}`` drops them on a device whose software rejects them.
    vrrp_paths: tuple[str, ...] = ()


class NetworkDriver(ABC):
    """Base class of every platform driver. One instance per device, one session per instance."""

    spec: PlatformSpec
    # The inventory's template override folder (``controller.templates``): set by whoever builds the
    # driver (:func:`netha.connect.make_driver`); None renders netha's shipped templates only.
    templates: Path | None = None

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

    # -- config text ------------------------------------------------------------------------------
    def stable_config(self, text: str) -> str:
        """``text`` as stored and compared: without the platform's volatile lines (``spec.volatile_config``)."""
        return config_body(text, self.spec.volatile_config)

    def same_config(self, a: str, b: str) -> bool:
        """The two configs are equal for this platform (volatile lines and blank edges aside)."""
        return self.stable_config(a) == self.stable_config(b)

    # -- captured output (``netha parse``, the conformance suite) ----------------------------------
    # What ``netha parse --kind K`` accepts: "vrrp" and "hsrp" give list[VrrpView], "interfaces"
    # dict[str, bool], "routes" dict[str, bool] (prefix -> present; the capture of the platform's
    # route command). A platform overrides :meth:`parse_capture` for the kinds it has.
    CAPTURE_KINDS: tuple[str, ...] = ()

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """What netha reads from ``text``, a captured output of the command this platform runs for ``kind``.

        No session: the same parsers a poll uses, on a file. Unknown kinds raise :class:`NotSupported`."""
        raise NotSupported(device, f"{cls.spec.name}: netha parse has no kind {kind!r} "
                                   f"(this platform: {', '.join(cls.CAPTURE_KINDS) or 'none'})")

    # -- getters ---------------------------------------------------------------------------------
    @abstractmethod
    def get_vrrp(self) -> list[VrrpView]:
        """Every VRRP instance of the device, as the device sees it."""

    @abstractmethod
    def get_interfaces(self) -> dict[str, bool]:
        """Interface name -> operationally up."""

    @abstractmethod
    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        """Interface name -> {"mac": "aa:bb:..." or None, "addresses": ["198.18.1.2/24", ...]}."""

    @abstractmethod
    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        """Prefix -> present in the routing table (exact prefix, any protocol)."""

    @abstractmethod
    def get_config(self) -> str:
        """The running configuration, as text, without its volatile lines (:meth:`stable_config`)."""

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll: VRRP, interfaces, the tracked routes and (native probers) the tracked paths.
        Drivers may batch this (and then wrap their poll in :func:`collecting_notes` as this one does:
        what the parsers skipped is the reading's ``notes``)."""
        with collecting_notes(self.name) as notes:
            details = self.get_interface_details()
            return DeviceReading(
                vrrp=tuple(self.get_vrrp()),
                interfaces=self.get_interfaces(),
                routes=self.get_routes(routes) if routes else {},
                addresses={k: tuple(v["addresses"]) for k, v in details.items()},
                reach=self.read_reach(probes),
                notes=notes,
            )

    # -- forwarding-path probes ------------------------------------------------------------------
    def read_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """The native probers' readings for ``probes`` (empty for other platforms: their probers
        stream, see :meth:`reach_stream`)."""
        return self.get_reach(probes) if probes and self.spec.reach == "native" else {}

    def get_reach(self, probes: Sequence[ReachProbe]) -> dict[str, ReachReading]:
        """Native platforms: each probe's state as the device's own prober reports it (key ->
        reading); a probe the device does not know is a reading with ``error`` set."""
        raise NotSupported(self.name, f"platform {self.spec.name} has no native prober to read")

    def reach_config(self, probes: Sequence[ReachProbe]) -> list[str]:
        """Native platforms: the config lines that set up ``probes`` on the device (rendered from
        the platform's ``reach`` template)."""
        raise NotSupported(self.name, f"platform {self.spec.name} has no native prober to configure")

    @classmethod
    def reach_stream(cls, probe: ReachProbe) -> ProbeStream:
        """Stream platforms: the long-running prober for ``probe``; Linux's ping/TCP prober
        (:mod:`netha.drivers.linux`) unless the platform's module says otherwise."""
        if cls.spec.reach != "stream":
            raise NotSupported("?", f"platform {cls.spec.name} has no streaming prober")
        return linux_stream(probe)

    # -- events ------------------------------------------------------------------------------------
    @classmethod
    def event_stream(cls) -> EventStream | None:
        """The device's stream of changes (links, addresses, routes, VRRP), run on a persistent
        shell channel (:mod:`netha.observe.events`); each event wakes a read of the device. None:
        the platform has none, and is polled only."""
        return None

    @classmethod
    def gnmi_subscription(cls) -> GnmiSubscription | None:
        """The platform's gNMI ON_CHANGE subscription (interface oper-status, VRRP state where the
        platform's OpenConfig has it), run by :mod:`netha.observe.gnmi` for a device with a ``gnmi:``
        block; each notification wakes a read of the device, as an event-stream line does. None: the
        platform has no gNMI server."""
        return None

    # -- changes -------------------------------------------------------------------------------
    @classmethod
    def check_change(cls, operation: str, values: ChangeValues) -> Operation:
        """``operation`` when it is one and the platform supports what ``values`` is for (its spec's
        ``protocols``, and ``ipv6`` for an IPv6 group); else a :class:`TemplateError` saying what the
        platform supports."""
        op = check_operation(operation)
        if not isinstance(values, ChangeValues):
            raise TemplateError(f"platform {cls.spec.name}: not change values: {type(values).__name__}")
        if values.needs not in cls.spec.protocols:
            what = "a static gateway address" if values.needs == "static" else values.needs.upper()
            raise TemplateError(f"platform {cls.spec.name} cannot change {what} "
                                f"(it supports {', '.join(sorted(cls.spec.protocols))})")
        ipv6 = cls.spec.ipv6
        if values.family == 6 and ipv6 is not None and values.needs not in ipv6:
            what = "a static IPv6 gateway address" if values.needs == "static" else f"IPv6 {values.needs.upper()}"
            raise TemplateError(f"platform {cls.spec.name} cannot change {what} "
                                f"(for IPv6 it supports {', '.join(sorted(ipv6)) or 'nothing'})")
        return op

    @classmethod
    def warm_templates(cls, templates: Path | None = None) -> None:
        """Compile the platform's change templates ahead of the first plan (a platform that edits its
        config structurally has none: nothing to do)."""
        try:
            r = renderer(cls.spec.name, templates)
        except TemplateError:
            return
        r.warm(OPERATIONS)

    @classmethod
    def render_change(cls, operation: Operation, values: ChangeValues, templates: Path | None = None) -> list[str]:
        """One change as text, without a device (plans, dry runs, the journal): for a text platform,
        the config lines :meth:`apply_change` pushes, rendered from the platform's template
        ``<operation>.j2`` (the folder ``templates`` first, then netha's shipped templates). A platform
        that edits its config structurally (keepalived) returns a readable description instead.

        A class method, so that a plan is made without sessions; a driver passes its own
        :attr:`templates` (see :meth:`apply_change`)."""
        op = cls.check_change(operation, values)
        return renderer(cls.spec.name, templates).render(op, values)

    def apply_change(self, operation: Operation, values: ChangeValues) -> str:
        """Apply one change to the device; returns what the device said. The default, for text
        platforms: :meth:`render_change` with this driver's :attr:`templates`, pushed with
        :meth:`load_config` (all or nothing where the device allows it)."""
        return self.load_config(self.render_change(operation, values, self.templates))

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
