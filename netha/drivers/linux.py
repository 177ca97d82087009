"""Linux-based platforms (FRR, keepalived): the streaming forwarding-path prober.

A stream prober is one long-running command on the device's shell whose every line is one
probe's outcome, read as it arrives over a persistent SSH channel (no new login per probe):

- ICMP echo: iputils ``ping -n -O``: each reply, and each probe left unanswered when the next one
  leaves ("no answer yet"), is a line. ``-I`` sources the probes from the member's own address or
  interface, so they take the member's own path and the replies come back to the member.
- TCP connect: a shell loop of ``nc -z`` (``-s`` for the source) or, without a source and without
  ``nc``, bash's ``/dev/tcp`` (the kernel picks the route's own source address).

A line starting ``netha-prober-error:`` (or ping's own usage and bind errors) is the prober's
failure, raised as :class:`~netha.errors.ParseError` so the caller reports the prober, not the path.
"""

from __future__ import annotations

import re
import shlex

from ..errors import ParseError
from .models import ProbeEvent, ProbeStream, ReachProbe

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
    command = (
        "LC_ALL=C; export LC_ALL; command -v ping >/dev/null 2>&1 || "
        f"{{ echo '{ERROR_PREFIX} ping not found'; exit 127; }}; "
        f"exec ping -n -O -i {_interval(probe.interval)} -W {wait}{source} {shlex.quote(probe.target)} 2>&1"
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
    """A TCP connect every ``interval``: ``tcp SEQ ok MICROSECONDS`` or ``tcp SEQ lost``."""
    target, port = shlex.quote(probe.target), int(probe.port or 0)
    wait = max(1, round(probe.timeout + 0.4999))
    if probe.source:
        src = probe.source
        # nc -s takes an address; an interface's address is looked up once.
        lookup = (
            f"s={shlex.quote(src)}; case $s in *[!0-9.]*) "
            f"s=$(ip -4 -o addr show dev {shlex.quote(src)} 2>/dev/null | sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' | head -n1);; esac; "
            f"[ -n \"$s\" ] || {{ echo '{ERROR_PREFIX} no IPv4 address on {src}'; exit 2; }}; "
        )
        connect = f"nc -z -w {wait} -s \"$s\" {target} {port}"
        need = f"command -v nc >/dev/null 2>&1 || {{ echo '{ERROR_PREFIX} nc not found (needed for a sourced TCP probe)'; exit 127; }}; "
    else:
        lookup = ""
        connect = (
            f"{{ {{ command -v nc >/dev/null 2>&1 && nc -z -w {wait} {target} {port}; }} || "
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
