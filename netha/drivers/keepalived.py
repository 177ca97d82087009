"""Linux with keepalived, over an SSH shell (netmiko ``linux``).

Reads: keepalived's JSON state dump (``keepalived --signum=JSON``; Debian builds keepalived with
``--enable-json``), ``ip -j addr`` for interfaces and addresses, ``ip -j route`` for tracked
routes. The running config is keepalived.conf; a change (one operation and its values) is a
structural edit of that file (:mod:`.keepalived_conf`; no config language, no templates), checked
with ``keepalived -t`` before it replaces the file, then a reload (SIGHUP). keepalived keeps the state of unchanged instances across a reload.

The driver finds the keepalived of the login's network namespace by itself (its pid, config file,
``TMPDIR`` and the JSON signal number), so one host may run one keepalived per namespace, as
the lab does. The login needs the rights to signal keepalived and write its config (root, or a
user with those rights).
"""

from __future__ import annotations

import base64
import logging
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import CommandRejected, DeviceError, NotSupported, ParseError
from .base import (
    EventStream,
    COUNTER_MAX, NetworkDriver, PlatformSpec, as_float, as_int, checked_view, load_json, need_int,
    need_object, opt_int,
    parser,
)
from .changes import ChangeValues, Operation
from .keepalived_conf import ConfEditError, address_family, describe_change, instances
from .keepalived_conf import apply_change as apply_conf_change
from .linux import monitor_stream
from .models import DeviceReading, InterfaceDetails, ReachProbe, VrrpStateName, VrrpView

log = logging.getLogger(__name__)

PROMPT = "netha-ka# "
SPEC = PlatformSpec(
    name="keepalived",
    netmiko_device_type="linux",
    prompt_pattern=r"netha-ka# ?",
    error_patterns=(r"^netha-error: ",),
    # A static gateway address on a Linux interface is not keepalived config: VRRP only.
    protocols=frozenset({"vrrp"}),
    config_enter=(),
    config_exit=(),
    comment_prefixes=("#", "!"),
    reach="stream",
    login_is_shell=True,
)

# keepalived's vrrp_t states: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT (FAULT: not serving, as INIT).
_STATES: dict[int, VrrpStateName] = {0: "init", 1: "backup", 2: "master", 3: "init"}
_SEP = "#netha-sep#"
_SEP_EXTRA = "#netha-out#"
DEFAULT_CONF = "/etc/keepalived/keepalived.conf"
APPLY_TIMEOUT = 3.0
_CHUNK = 3000  # base64 characters per shell line (a tty line holds 4095)
_LINE_MAX = 3900  # the longest command line sent (a tty line holds 4095)
_UPLOAD_FAILED = "netha-error: upload failed"


@dataclass(frozen=True)
class Keepalived:
    """The keepalived process of the login's namespace, as found on the device."""

    pid: int
    conf: str
    tmpdir: str
    json_signal: int

    @property
    def json_file(self) -> str:
        return f"{self.tmpdir}/keepalived.json"


def _ip_only(entry: str) -> str:
    return entry.split()[0].split("/")[0] if entry.split() else entry


DUMP = "keepalived JSON dump"
IP_ADDR = "ip -j addr"
IP_ROUTE = "ip -j route"




@parser(DUMP)
def parse_state(text: str, conf: str = "", device: str = "?") -> list[VrrpView]:
    """keepalived's JSON dump -> one view per instance; instances netha shut down come from ``conf``.

    An instance's family is its virtual addresses' (keepalived takes it from them; an IPv4 and an
    IPv6 instance may share a VRID on one interface)."""
    data = load_json(text, device, DUMP)
    if not isinstance(data, list):
        raise ParseError(device, "keepalived JSON dump: expected a list")
    views = []
    for entry in data:
        entry = need_object(entry, device, DUMP)
        d, st = need_object(entry.get("data"), device, DUMP), need_object(entry.get("stats", {}), device, DUMP)
        ifname, vips = d.get("ifp_ifname"), d.get("vips", [])
        if not isinstance(ifname, str):
            raise ParseError(device, f"{DUMP}: unexpected entry (ifp_ifname {ifname!r:.40})")
        if not isinstance(vips, list) or not all(isinstance(v, str) for v in vips):
            raise ParseError(device, f"{DUMP}: unexpected entry (vips is not a list of addresses)")
        state = as_int(d.get("state"))
        interval = as_float(d.get("adver_int"))
        if interval is None:
            raise ParseError(device, f"{DUMP}: unexpected entry (adver_int {d.get('adver_int')!r:.40})")
        transitions = None
        if "become_master" in st:
            transitions = need_int(st["become_master"], device, DUMP, "become_master", 0, COUNTER_MAX) + \
                need_int(st.get("release_master"), device, DUMP, "release_master", 0, COUNTER_MAX)
        views.append(checked_view(VrrpView(
            vrid=need_int(d.get("vrid"), device, DUMP, "vrid", 1, 255),
            interface=ifname,
            state=_STATES.get(state, "unknown") if state is not None else "unknown",
            priority=need_int(d.get("base_priority"), device, DUMP, "base_priority", 0, 255),
            effective_priority=need_int(d.get("effective_priority"), device, DUMP, "effective_priority", 0, 255),
            virtual_addresses=tuple(_ip_only(v) for v in vips),
            adverts_rx=opt_int(st.get("advert_rcvd"), device, DUMP, "advert_rcvd", 0, COUNTER_MAX),
            adverts_tx=opt_int(st.get("advert_sent"), device, DUMP, "advert_sent", 0, COUNTER_MAX),
            transitions=min(transitions, COUNTER_MAX) if transitions is not None else None,
            advert_interval=interval,
            preempt=not bool(d.get("nopreempt", False)),
            family=address_family(vips[0]) if vips else 4,  # type: ignore[arg-type]
        ), device, DUMP))
    running = {(v.interface, v.vrid, v.family) for v in views}
    for inst in instances(conf):
        if inst.shutdown and inst.interface and inst.vrid and (inst.interface, inst.vrid, inst.family) not in running:
            views.append(VrrpView(vrid=inst.vrid, interface=inst.interface, state="init", priority=inst.priority,
                                  effective_priority=inst.priority, virtual_addresses=tuple(map(_ip_only, inst.addresses)),
                                  preempt=not inst.nopreempt, shutdown=True,
                                  family=inst.family))  # type: ignore[arg-type]
    return views


def _ip_json(text: str, device: str, what: str) -> list[dict]:
    """``ip -j`` output: its objects that have an interface name."""
    data = load_json(text, device, what)
    if not isinstance(data, list):
        raise ParseError(device, f"{what}: expected a JSON list")
    return [x for x in data if isinstance(x, dict)]


def _named(text: str, device: str) -> list[dict]:
    return [x for x in _ip_json(text, device, IP_ADDR) if isinstance(x.get("ifname"), str)]


def _flags(x: dict) -> list:
    flags = x.get("flags", [])
    return flags if isinstance(flags, list) else []


@parser(IP_ADDR)
def parse_links(text: str, device: str = "?") -> dict[str, bool]:
    """``ip -j addr show`` (or ``ip -j link show``): name -> admin up and carrier (LOWER_UP)."""
    return {x["ifname"]: "UP" in _flags(x) and "LOWER_UP" in _flags(x) for x in _named(text, device)}


def _inet(info: object, device: str) -> list[str]:
    """An interface's IPv4 and IPv6 addresses with prefix length (link-local ones too: an IPv6 VRRP
    router advertises from its link-local address)."""
    if not isinstance(info, list):
        raise ParseError(device, f"{IP_ADDR}: addr_info is not a list")
    out = []
    for a in info:
        if not isinstance(a, dict) or a.get("family") not in ("inet", "inet6") or "local" not in a:
            continue
        if not isinstance(a["local"], str):
            raise ParseError(device, f"{IP_ADDR}: local address {a['local']!r:.40} is not an address")
        top = 32 if a["family"] == "inet" else 128
        out.append(f"{a['local']}/{need_int(a.get('prefixlen'), device, IP_ADDR, 'prefixlen', 0, top)}")
    return out


@parser(IP_ADDR)
def parse_addresses(text: str, device: str = "?") -> dict[str, InterfaceDetails]:
    """``ip -j addr show``: name -> {"mac", "addresses": [IPv4, then IPv6, with prefix length]}."""
    return {
        x["ifname"]: {
            "mac": x.get("address") if isinstance(x.get("address"), str) else None,
            "addresses": _inet(x.get("addr_info", []), device),
        }
        for x in _named(text, device)
    }


@parser(IP_ROUTE)
def parse_route(text: str, device: str = "?") -> bool:
    """``ip -j route show exact PREFIX``: present when the list is not empty."""
    return bool(_ip_json(text, device, IP_ROUTE))


_PID_ROW = re.compile(r"\s*([0-9]{1,7})\s+([0-9]{1,7})(?:\s.*)?", re.ASCII)
PID_MAX = 2**22  # Linux's largest pid_max


@parser("keepalived process table")
def parse_process_table(text: str) -> int | None:
    """Lines "PID PPID" of this namespace's keepalived processes -> the parent's pid."""
    rows = [(int(m.group(1)), int(m.group(2))) for ln in text.splitlines() if (m := _PID_ROW.fullmatch(ln))]
    rows = [(p, pp) for p, pp in rows if 0 < p <= PID_MAX]
    pids = {p for p, _ in rows}
    parents = [p for p, pp in rows if pp not in pids]
    return parents[0] if len(parents) == 1 else None


@parser("keepalived command line")
def parse_cmdline(cmdline: str) -> str:
    """keepalived's command line (NUL-separated, or spaces) -> its config file."""
    args = cmdline.replace("\0", " ").split()
    for i, a in enumerate(args):
        if a in ("-f", "--use-file") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--use-file="):
            return a.split("=", 1)[1]
        if a.startswith("-f") and len(a) > 2:
            return a[2:]
    return DEFAULT_CONF


_SIGNUM = re.compile(r"\s*([0-9]{1,2})\s*", re.ASCII)


@parser("keepalived process info")
def parse_keepalived_info(text: str) -> tuple[str, str, int | None]:
    """The driver's probe of a keepalived process: its command line, then its ``TMPDIR=`` line (if
    any), then what ``keepalived --signum=JSON`` printed -> (config file, TMPDIR, JSON signal
    number or None when this keepalived has no JSON dump)."""
    lines = text.splitlines()
    conf = parse_cmdline(lines[0] if lines else "")
    tmpdir = next((ln.split("=", 1)[1] for ln in lines if ln.startswith("TMPDIR=")), "").strip() or "/tmp"
    signum = None
    for ln in lines[1:]:
        m = _SIGNUM.fullmatch(ln)
        if m and 1 <= int(m.group(1)) <= 64:
            signum = int(m.group(1))
            break
    return conf, tmpdir, signum


class KeepalivedDriver(NetworkDriver):
    spec = SPEC

    CAPTURE_KINDS = ("vrrp", "interfaces", "routes")

    @classmethod
    def parse_capture(cls, kind: str, text: str, device: str = "capture") -> object:
        """keepalived's JSON dump (vrrp; without keepalived.conf, no instance reads as shut down by
        netha), ``ip -j addr show`` (interfaces), ``ip -j route show exact PREFIX`` (routes)."""
        if kind == "vrrp":
            return parse_state(text, "", device)
        if kind == "interfaces":
            return parse_links(text, device)
        if kind == "routes":
            routes = {}
            for entry in _ip_json(text, device, IP_ROUTE):
                dst = entry.get("dst") if isinstance(entry, dict) else None
                if not isinstance(dst, str):
                    raise ParseError(device, f"{IP_ROUTE}: a route without a destination")
                default = "::/0" if ":" in str(entry.get("gateway", "")) else "0.0.0.0/0"
                routes[default if dst == "default" else dst] = True
            return routes
        return super().parse_capture(kind, text, device)

    @classmethod
    def event_stream(cls) -> EventStream | None:
        """The kernel's change stream on the device's shell (:func:`.linux.monitor_stream`)."""
        return monitor_stream()

    _ka: Keepalived | None = None

    # -- session ----------------------------------------------------------------------------------
    def prepare_session(self) -> None:
        # No line editing (the tty echoes each command as sent, no redraws), a prompt the channel can find.
        self.run(f"set +o emacs +o vi 2>/dev/null; unset PROMPT_COMMAND; "
                 f"export LC_ALL=C PS2= PS1={shlex.quote(PROMPT)}")
        # Find keepalived now, so a takeover on a warm session does not pay for it; a keepalived that
        # is not running yet is looked for again on first use.
        self._ka = None
        try:
            self.keepalived()
        except DeviceError as exc:
            log.debug("%s: %s", self.name, exc)

    def keepalived(self, refresh: bool = False) -> Keepalived:
        """Find this namespace's keepalived (cached; ``refresh`` after it restarted)."""
        if self._ka is not None and not refresh:
            return self._ka
        table = self.run(
            'for p in $(pgrep -x keepalived); do [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/$$/ns/net)" ] '
            "&& echo \"$p $(cut -d' ' -f4 /proc/$p/stat)\"; done"
        )
        pid = parse_process_table(table)
        if pid is None:
            raise DeviceError(self.name, "keepalived is not running (no keepalived process in this namespace)")
        info = self.run(f"tr '\\0' ' ' < /proc/{pid}/cmdline; echo; tr '\\0' '\\n' < /proc/{pid}/environ | grep '^TMPDIR=';"
                        " keepalived --signum=JSON 2>/dev/null")
        conf, tmpdir, signum = parse_keepalived_info(info)
        if signum is None:
            raise DeviceError(self.name, "this keepalived has no JSON dump (built without --enable-json)")
        self._ka = Keepalived(pid, conf, tmpdir, signum)
        log.debug("%s: keepalived pid %s, config %s", self.name, pid, conf)
        return self._ka

    # -- getters ----------------------------------------------------------------------------------
    def _dump(self, with_conf: bool = True) -> tuple[str, str]:
        """keepalived's JSON dump, and its config file (where instances netha shut down are), in one round trip."""
        state, conf, _ = self._dump_with(with_conf)
        return state, conf

    def _dump_with(self, with_conf: bool = True, extra: Sequence[str] = ()) -> tuple[str, str, list[str]]:
        """:meth:`_dump`, and the outputs of the read-only commands ``extra``, in the same round trip
        (a poll is one round trip: the dump, the config, the addresses and the routes); each extra
        output is checked for a rejection as :meth:`run_checked` would."""
        for attempt in range(2):
            ka = self.keepalived(refresh=attempt > 0)
            f, lock = shlex.quote(ka.json_file), shlex.quote(f"{ka.tmpdir}/.netha-json.lock")
            out = self.run(
                f"( flock -w 2 9; rm -f {f}; kill -{ka.json_signal} {ka.pid} 2>/dev/null || echo netha-error: no-process; "
                f"for i in $(seq 200); do [ -s {f} ] && break; sleep 0.005; done; sleep 0.002; cat {f} ) 9>{lock}"
                # Quoted: unquoted, a word starting with # is a comment to the shell (the rest of the
                # line with it: the config was never read with the dump until this was quoted).
                + (f"; echo '{_SEP}'; cat {shlex.quote(ka.conf)}" if with_conf else "")
                + "".join(f"; echo '{_SEP_EXTRA}'; {cmd}" for cmd in extra)
            )
            if "netha-error: no-process" in out:
                continue  # keepalived restarted: find it again
            head, *outs = out.split(_SEP_EXTRA)
            state, _, conf = head.partition(_SEP)
            try:
                load_json(state, self.name, "keepalived JSON dump")
            except ParseError:
                continue  # read while keepalived was still writing: once more
            if len(outs) != len(extra):
                raise ParseError(self.name, f"expected {len(extra)} command outputs after the dump, got {len(outs)}")
            outs = [o.lstrip("\n") for o in outs]
            for cmd, o in zip(extra, outs):
                bad = self.rejected_line(o)
                if bad:
                    raise CommandRejected(self.name, f"{cmd!r} rejected: {bad}")
            return state, conf.lstrip("\n"), outs
        raise ParseError(self.name, "keepalived did not write a complete JSON dump")

    def get_vrrp(self) -> list[VrrpView]:
        state, conf = self._dump()
        views = parse_state(state, conf, self.name)
        return self._with_master_address(views, parse_addresses(self.run_checked("ip -j addr show"), self.name))

    @staticmethod
    def _with_master_address(views: list[VrrpView], addrs: dict[str, InterfaceDetails]) -> list[VrrpView]:
        """A master's own (non-virtual) address on the instance's interface, as FRR reports it: of the
        instance's family, and over IPv6 its link-local one (the adverts' source)."""
        out = []
        for v in views:
            own = [a for a in addrs.get(v.interface, {}).get("addresses", [])  # type: ignore[union-attr]
                   if a.split("/")[0] not in v.virtual_addresses and address_family(a) == v.family
                   and (v.family == 4 or a.lower().startswith("fe80:"))]
            out.append(replace(v, master_address=own[0].split("/")[0]) if v.state == "master" and own else v)
        return out

    def get_interfaces(self) -> dict[str, bool]:
        return parse_links(self.run_checked("ip -j addr show"), self.name)

    def get_interface_details(self) -> dict[str, InterfaceDetails]:
        return parse_addresses(self.run_checked("ip -j addr show"), self.name)

    @staticmethod
    def _route_command(prefix: str) -> str:
        # The family explicitly: with a table given, ip takes IPv4 unless told.
        return f"ip -j {'-6' if ':' in str(prefix) else '-4'} route show table main exact {shlex.quote(str(prefix))}"

    def get_routes(self, prefixes: Sequence[str]) -> dict[str, bool]:
        return {p: parse_route(self.run_checked(self._route_command(p)), self.name) for p in prefixes}

    def read(self, routes: Sequence[str] = (), probes: Sequence[ReachProbe] = ()) -> DeviceReading:
        """One poll in one round trip: the dump, the config, ``ip -j addr show`` and each route."""
        state, conf, outs = self._dump_with(extra=["ip -j addr show", *(self._route_command(p) for p in routes)])
        ipout = outs[0]
        addrs = parse_addresses(ipout, self.name)
        return DeviceReading(
            vrrp=tuple(self._with_master_address(parse_state(state, conf, self.name), addrs)),
            interfaces=parse_links(ipout, self.name),
            routes={p: parse_route(out, self.name) for p, out in zip(routes, outs[1:])},
            addresses={k: tuple(v["addresses"]) for k, v in addrs.items()},
            reach=self.read_reach(probes),
        )

    def get_config(self) -> str:
        ka = self.keepalived()
        out = self.run(f"cat {shlex.quote(ka.conf)} || echo netha-error: cannot read {shlex.quote(ka.conf)}")
        bad = self.rejected_line(out)
        if bad:
            raise CommandRejected(self.name, bad.removeprefix("netha-error: "))
        return out.rstrip("\n") + "\n"

    # -- changes ----------------------------------------------------------------------------------
    @classmethod
    def render_change(cls, operation: Operation, values: ChangeValues, templates: Path | None = None) -> list[str]:
        """The change as an operator reads it (keepalived has no config language to render: the
        change is an edit of keepalived.conf, :meth:`apply_change`). ``templates`` is not used."""
        return describe_change(cls.check_change(operation, values), values)

    def apply_change(self, operation: Operation, values: ChangeValues) -> str:
        """Edit keepalived.conf for the change (:func:`.keepalived_conf.apply_change`), test it,
        install it, reload, wait until keepalived runs it."""
        op = self.check_change(operation, values)
        current = self.get_config()
        try:
            new = apply_conf_change(current, op, values)
        except ConfEditError as exc:
            raise CommandRejected(self.name, f"{self.keepalived().conf}: {exc}") from None
        if new == current:
            return "keepalived.conf unchanged"
        self.install_config(new)
        return f"keepalived.conf updated and reloaded (pid {self.keepalived().pid})"

    def load_config(self, lines: Sequence[str]) -> str:
        """keepalived has no config lines to send: a change is applied with :meth:`apply_change`
        (a plan journaled by a netha before structured changes cannot be finished on keepalived:
        recovery then rolls it back)."""
        raise NotSupported(self.name, "keepalived takes structured changes only (apply_change), not config lines")

    def replace_config(self, config: str) -> None:
        config = config.rstrip("\n") + "\n"
        if config != self.get_config():
            self.install_config(config)

    def install_config(self, text: str) -> None:
        """Upload ``text``, check it with ``keepalived -t``, put it in place, reload, wait until loaded.

        One round trip for a config that fits one shell line (upload, check, install and reload in one
        command, which installs nothing unless the upload and the check passed: the resign of an
        emergency failover is one round trip after the config is read), one more per further 3000
        characters."""
        ka = self.keepalived()
        conf = shlex.quote(ka.conf)
        new, b64 = shlex.quote(ka.conf + ".netha-new"), shlex.quote(ka.conf + ".netha-b64")
        payload = base64.b64encode(text.encode()).decode()
        chunks = [payload[i:i + _CHUNK] for i in range(0, len(payload), _CHUNK)] or [""]
        decode = f"base64 -d {b64} > {new} && rm -f {b64}"
        first = f"umask 077; rm -f {new} {b64}; printf %s {chunks[0]} >> {b64}"
        log_ = shlex.quote(ka.conf + ".netha-check")
        check = (
            f"keepalived -t -f {new} > {log_} 2>&1; rc=$?; echo netha-rc=$rc; head -5 {log_}; rm -f {log_}; "
            f"if [ $rc = 0 ]; then chmod --reference={conf} {new} && chown --reference={conf} {new} && mv -f {new} {conf} "
            f"&& kill -HUP {ka.pid} || echo netha-install-failed; else rm -f {new}; fi"
        )
        whole = f"if {first} && {decode}; then {check}; else echo {_UPLOAD_FAILED}; fi"
        if len(chunks) == 1 and len(whole) <= _LINE_MAX:
            out = self.run(whole)
        else:
            self.run_checked(first)
            for chunk in chunks[1:]:
                self.run_checked(f"printf %s {chunk} >> {b64}")
            out = self.run(f"if {decode}; then {check}; else echo {_UPLOAD_FAILED}; fi")
        if _UPLOAD_FAILED in out:
            raise CommandRejected(self.name, f"could not upload the new config next to {ka.conf}")
        rc = next((ln.split("=", 1)[1] for ln in out.splitlines() if ln.startswith("netha-rc=")), "?")
        if rc != "0":
            why = next((ln.strip() for ln in out.splitlines()
                        if ln.strip() and not ln.startswith(("netha-rc=", "netha-install-failed"))), f"exit {rc}")
            raise CommandRejected(self.name, f"keepalived -t rejected the new config: {why}")
        if "netha-install-failed" in out:
            raise CommandRejected(self.name, f"could not install {ka.conf}")
        self._wait_loaded(text)

    def _wait_loaded(self, text: str) -> None:
        """After SIGHUP: wait until the dump shows what the new config says for every instance."""
        want = {(i.interface, i.vrid, i.family): i for i in instances(text) if i.interface and i.vrid}
        deadline = time.monotonic() + APPLY_TIMEOUT
        while True:
            state, _ = self._dump(with_conf=False)
            views = {(v.interface, v.vrid, v.family): v for v in parse_state(state, "", self.name)}

            def loaded(key: tuple[str, int, int], inst) -> bool:
                if inst.shutdown:
                    return key not in views
                v = views.get(key)
                return v is not None and (inst.priority is None or v.priority == inst.priority) \
                    and v.preempt == (not inst.nopreempt) \
                    and set(v.virtual_addresses) == {a.split("/")[0] for a in inst.addresses}

            if all(loaded(k, i) for k, i in want.items()):
                return
            if time.monotonic() > deadline:
                raise CommandRejected(self.name, f"keepalived did not load the new config within {APPLY_TIMEOUT:.0f}s")
            time.sleep(0.02)


Driver = KeepalivedDriver
