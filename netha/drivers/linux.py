"""Linux-based platforms (FRR, keepalived): the streaming forwarding-path prober.

A stream prober is one long-running command on the device's shell whose every line is one
probe's outcome, read as it arrives over a persistent SSH channel (no new login per probe):

- ICMP echo: iputils ``ping -n -O``: each reply, and each probe left unanswered when the next one
  leaves ("no answer yet"), is a line. ``-I`` sources the probes from the member's own address or
  interface, so they take the member's own path and the replies come back to the member. An IPv6
  target gets ``ping -6`` (the same output; a source interface then gives its IPv6 address).
- TCP connect: a shell loop of ``nc -z`` (``-s`` for the source) or, without a source and without
  ``nc``, bash's ``/dev/tcp`` (the kernel picks the route's own source address).

The event stream (:func:`monitor_stream`) is the kernel's own: ``ip -o monitor link address
route``, one line per change, on the same persistent connection. VRRP state changes show there
too, as what the VRRP daemon does to the kernel: FRR's vrrpd sets its macvlan ``protodown`` in
Backup and clears it in Master (a link event), keepalived adds and removes the virtual addresses
(address and route events).

A line starting ``netha-prober-error:`` (or ping's own usage and bind errors) is the prober's
failure, raised as :class:`~netha.errors.ParseError` so the caller reports the prober, not the path.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from ..errors import ParseError
from .models import ProbeEvent, ProbeStream, ReachProbe

if TYPE_CHECKING:
    from .base import DeviceEvent, EventStream

ERROR_PREFIX = "netha-prober-error:"

_REPLY = re.compile(r"\bicmp_seq=(\d{1,9})\b.*?\btime[=<]([0-9]{1,9}(?:\.[0-9]{1,6})?) ms", re.ASCII)
_NO_ANSWER = re.compile(r"^no answer yet for icmp_seq=(\d{1,9})\s*$", re.ASCII)
# "From 198.18.6.1 icmp_seq=3 Destination Host Unreachable": an ICMP error instead of the echo reply.
_UNREACHABLE = re.compile(r"^From \S+ icmp_seq=(\d{1,9}) \S", re.ASCII)
_TCP = re.compile(r"^tcp (\d{1,9}) (ok (\d{1,9})|lost)\s*$", re.ASCII)
# ping's own failures: a bad source ("bind: Cannot assign requested address"), no permission, no such device.
_PING_FATAL = re.compile(r"^ping: |^Usage:|invalid|Cannot assign|Operation not permitted|unknown iface", re.IGNORECASE)


def _interval(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _outcome_line(line: str) -> str:
    """A prober's output line, stripped; the prober's own error line is a ParseError."""
    line = line.strip()
    if line.startswith(ERROR_PREFIX):
        raise ParseError("prober", line[len(ERROR_PREFIX):].strip() or "prober failed")
    return line


def ping_stream(probe: ReachProbe) -> ProbeStream:
    wait = max(1, round(probe.timeout + 0.4999))  # ping's -W takes whole seconds on older iputils
    source = f" -I {shlex.quote(probe.source)}" if probe.source else ""
    family = " -6" if ":" in probe.target else ""
    command = (
        "LC_ALL=C; export LC_ALL; command -v ping >/dev/null 2>&1 || "
        f"{{ echo '{ERROR_PREFIX} ping not found'; exit 127; }}; "
        f"exec ping{family} -n -O -i {_interval(probe.interval)} -W {wait}{source} {shlex.quote(probe.target)} 2>&1"
    )
    return ProbeStream(command, parse_ping_line)


def parse_ping_line(line: str) -> ProbeEvent | None:
    """One line of ``ping -n -O``: a reply, a probe left unanswered, an ICMP error, or nothing."""
    line = _outcome_line(line)
    if not line:
        return None
    m = _REPLY.search(line)
    if m and " bytes from " in line:
        return ProbeEvent(int(m.group(1)), True, float(m.group(2)) / 1000.0)
    m = _NO_ANSWER.match(line) or _UNREACHABLE.match(line)
    if m:
        return ProbeEvent(int(m.group(1)), False)
    if line.startswith("PING ") or line.startswith("---") or " packets transmitted" in line or line.startswith("rtt "):
        return None
    if line.startswith("ping: sendmsg:") or line.startswith("ping: sendto:"):
        # A probe the kernel could not send (no route, no carrier: "No buffer space available",
        # "Network is unreachable"): the path's failure, counted by its "no answer yet" line.
        return None
    if _PING_FATAL.search(line):
        raise ParseError("prober", f"ping: {line[:120]}")
    return None


def tcp_stream(probe: ReachProbe) -> ProbeStream:
    """A TCP connect every ``interval``: ``tcp SEQ ok MICROSECONDS`` or ``tcp SEQ lost``. An IPv6
    target: ``nc -6`` (bash's /dev/tcp takes an IPv6 literal too); a source interface then gives its
    global IPv6 address."""
    target, port = shlex.quote(probe.target), int(probe.port or 0)
    wait = max(1, round(probe.timeout + 0.4999))
    v6 = ":" in probe.target
    if probe.source:
        src = probe.source
        # nc -s takes an address; an interface's address is looked up once.
        if v6:
            lookup = (
                f"s={shlex.quote(src)}; case $s in *:*) ;; *) "
                f"s=$(ip -6 -o addr show dev {shlex.quote(src)} scope global 2>/dev/null | sed -n 's/.* inet6 \\([0-9a-fA-F:]*\\)\\/.*/\\1/p' | head -n1);; esac; "
                f"[ -n \"$s\" ] || {{ echo '{ERROR_PREFIX} no global IPv6 address on {src}'; exit 2; }}; "
            )
        else:
            lookup = (
                f"s={shlex.quote(src)}; case $s in *[!0-9.]*) "
                f"s=$(ip -4 -o addr show dev {shlex.quote(src)} 2>/dev/null | sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' | head -n1);; esac; "
                f"[ -n \"$s\" ] || {{ echo '{ERROR_PREFIX} no IPv4 address on {src}'; exit 2; }}; "
            )
        connect = f"nc{' -6' if v6 else ''} -z -w {wait} -s \"$s\" {target} {port}"
        need = f"command -v nc >/dev/null 2>&1 || {{ echo '{ERROR_PREFIX} nc not found (needed for a sourced TCP probe)'; exit 127; }}; "
    else:
        lookup = ""
        connect = (
            f"{{ {{ command -v nc >/dev/null 2>&1 && nc{' -6' if v6 else ''} -z -w {wait} {target} {port}; }} || "
            f"{{ ! command -v nc >/dev/null 2>&1 && timeout {wait} bash -c 'exec 3<>/dev/tcp/'{target}'/{port}'; }}; }}"
        )
        need = (
            "{ command -v nc >/dev/null 2>&1 || command -v bash >/dev/null 2>&1; } || "
            f"{{ echo '{ERROR_PREFIX} neither nc nor bash found'; exit 127; }}; "
        )
    command = (
        "LC_ALL=C; export LC_ALL; " + need + lookup
        + "i=0; while :; do i=$((i+1)); a=$(date +%s%N); "
        + f"if {connect} >/dev/null 2>&1; then b=$(date +%s%N); echo \"tcp $i ok $(( (b-a)/1000 ))\"; "
        + "else echo \"tcp $i lost\"; fi; "
        + f"sleep {_interval(probe.interval)}; done"
    )
    return ProbeStream(command, parse_tcp_line)


def parse_tcp_line(line: str) -> ProbeEvent | None:
    line = _outcome_line(line)
    if not line:
        return None
    m = _TCP.match(line)
    if m is None:
        return None
    if m.group(3) is not None:
        return ProbeEvent(int(m.group(1)), True, int(m.group(3)) / 1e6)
    return ProbeEvent(int(m.group(1)), False)


def reach_stream(probe: ReachProbe) -> ProbeStream:
    """The stream prober of ``probe`` on a Linux shell."""
    return tcp_stream(probe) if probe.kind == "tcp" else ping_stream(probe)


# -- the event stream ----------------------------------------------------------------------------------

EVENTS_ERROR = "netha-events-error:"
EVENTS_READY = "netha-events-ready"
EVENTS_ALIVE = "netha-events-alive"
HEARTBEAT = 2.0  # seconds between the stream's "alive" lines (a quiet kernel prints nothing)

# "3: eth2@if16: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 ... state DOWN ..."
_LINK = re.compile(r"^(\d{1,9}): ([^\s:@]{1,64})(?:@[^\s:]{1,64})?: <([A-Z0-9_,-]{0,200})>", re.ASCII)
# "3: eth2    inet 198.18.5.1/24 scope global secondary eth2 ..."
_ADDR = re.compile(r"^(\d{1,9}): ([^\s:@]{1,64})\s+(inet6?) (\S{1,64})", re.ASCII)
# "198.18.5.0/24 dev eth2 proto kernel ...", "local 198.18.5.1 dev eth2 table local ..."
_ROUTE_TYPES = ("local", "broadcast", "anycast", "multicast", "unicast", "unreachable", "blackhole", "prohibit")
_ROUTE_DEV = re.compile(r"\bdev ([^\s]{1,64})", re.ASCII)


def monitor_stream() -> EventStream:
    """The kernel's change stream of a Linux device: links, addresses and routes, one line each,
    with an "alive" line every :data:`HEARTBEAT` seconds so a silent stream is told from a dead one."""
    from .base import EventStream

    command = (
        "LC_ALL=C; export LC_ALL; command -v ip >/dev/null 2>&1 || "
        f"{{ echo '{EVENTS_ERROR} ip (iproute2) not found'; exit 127; }}; "
        f"( while :; do echo {EVENTS_ALIVE}; sleep {_interval(HEARTBEAT)}; done ) & "
        f"echo {EVENTS_READY}; exec ip -o monitor link address route 2>&1"
    )
    return EventStream(command, parse_monitor_line, heartbeat=HEARTBEAT)


def parse_monitor_line(line: str) -> DeviceEvent | None:
    """One line of ``ip -o monitor link address route`` (or the stream's own marker lines)."""
    from .base import DeviceEvent

    line = line.strip()
    if not line:
        return None
    if line.startswith(EVENTS_ERROR):
        raise ParseError("events", line[len(EVENTS_ERROR):].strip() or "event stream failed")
    if line == EVENTS_ALIVE:
        return DeviceEvent("heartbeat")
    if line == EVENTS_READY:
        return DeviceEvent("ready")
    if line.startswith("Cannot ") or line.startswith("ip: ") or line.startswith("Usage:") \
            or line.startswith("Object \"") or "Operation not permitted" in line:
        raise ParseError("events", f"ip monitor: {line[:120]}")
    deleted = line.startswith("Deleted ")
    body = line[len("Deleted "):] if deleted else line
    gone = "deleted " if deleted else ""
    m = _LINK.match(body)
    if m:
        flags = m.group(3).split(",")
        state = "up" if "UP" in flags and "LOWER_UP" in flags else "down"
        if "protodown" in body.split():
            state += ", protodown"
        return DeviceEvent("link", m.group(2), f"{gone}{state}")
    m = _ADDR.match(body)
    if m:
        return DeviceEvent("address", m.group(2), f"{gone}{m.group(3)} {m.group(4)}")
    m = _ROUTE_DEV.search(body)
    if m:
        words = body.split()
        prefix = words[1] if len(words) > 1 and words[0] in _ROUTE_TYPES else words[0]
        return DeviceEvent("route", m.group(1), f"{gone}{prefix[:64]}")
    return DeviceEvent("other", None, line[:120])
