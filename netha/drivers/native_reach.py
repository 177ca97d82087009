"""Native forwarding-path probers shared by the vendor drivers: Cisco IP SLA (IOS, IOS-XE, NX-OS)
read from the CLI, and the SNMP side of the native probers (CISCO-RTTMON-MIB, DISMAN-PING-MIB).

Everything here is pure: text or varbinds in, :class:`~netha.drivers.models.ReachReading` out.
A probe the device does not know, or one that has no result yet, is a reading with state
``unknown`` and ``error`` saying so (the prober's failure, never the path's); output that cannot be
read is a :class:`~netha.errors.ParseError`.

Cisco IP SLA, as netha configures it (``templates/cisco_ios/reach.j2``): entry ``ip sla N`` (one
ICMP echo or TCP connect every ``frequency`` seconds) and ``track N ip sla N reachability`` (or
``state`` when the probe has a round-trip limit), with ``delay down/up`` standing for the probe's
loss window. The verdict is the track's state (it carries the delays); ``show ip sla statistics``
tells a probe that has no result yet (return code ``Unknown``: not scheduled, or before its first
operation) from a path that is down, and gives the latest round trip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import CommandRejected, ParseError
from .base import need_int, parser
from .models import ReachProbe, ReachReading, ReachState

MAX_SLA_INDEX = 2_147_483_647  # IP SLA entries and track objects are 1..2^31-1 on IOS
MAX_COUNT = 2**32 - 1


def unknown(probe: ReachProbe, why: str, rate: float | None = None) -> ReachReading:
    """A reading that says the prober could not tell (not configured, no result yet)."""
    return ReachReading(key=probe.key, state="unknown", error=why, rate=rate)


def guarded(probes: Sequence[ReachProbe], read: Callable[[], dict[str, ReachReading]]) -> dict[str, ReachReading]:
    """``read()``, or, when the device refuses the prober's show command or its output cannot be
    read, every probe ``unknown`` with that error: the prober's failure is not the path's, and it
    must not cost the rest of the poll (VRRP, interfaces). A lost session still raises."""
    try:
        return read()
    except (ParseError, CommandRejected) as exc:
        return {p.key: unknown(p, f"native prober unreadable: {exc}") for p in probes}


# -- Cisco IP SLA -----------------------------------------------------------------------------------

def ipsla_frequency(probe: ReachProbe) -> int:
    """The IP SLA ``frequency`` (seconds) for ``probe``: its interval rounded up, at least 1.

    IP SLA's ``frequency`` is a whole number of seconds and at least 1 (IOS, IOS-XE and NX-OS), so
    a probe asking for 50 ms probes once a second here; ``templates/*/reach.j2`` compute the same.
    """
    return max(1, math.ceil(probe.interval - 1e-9))


@dataclass(frozen=True)
class SlaResult:
    """One entry of ``show ip sla statistics``."""

    index: int
    return_code: str | None  # as printed: "OK", "Timeout", "No connection", "Unknown" ...
    rtt_ms: int | None  # the latest round trip; None when the operation had none
    successes: int | None
    failures: int | None


@dataclass(frozen=True)
class TrackEntry:
    """One object of ``show track``."""

    index: int
    kind: str  # "ip sla", "interface", "ip route", ... (lower case)
    sla: int | None  # the IP SLA entry an "ip sla" track follows
    parameter: str  # "reachability", "state", "line-protocol" ... (lower case)
    up: bool
    return_code: str | None = None
    rtt_ms: int | None = None


_SLA_HEADER = re.compile(r"^\s*(?:IPSLA operation id|Round Trip Time \(RTT\) for\s+Index)\s*:?\s*(\S+)\s*$", re.I)
_SLA_BANNER = re.compile(r"^\s*(?:IPSLAs? Latest Operation Statistics|show ip sla statistics\b.*)\s*$", re.I)
_SLA_RTT = re.compile(r"^\s*Latest RTT\s*:\s*(.*?)\s*$", re.I)
_SLA_RC = re.compile(r"^\s*Latest operation return code\s*:\s*(.*?)\s*$", re.I)
_SLA_COUNT = re.compile(r"^\s*Number of (successes|failures)\s*:\s*(.*?)\s*$", re.I)
_RTT_MS = re.compile(r"^([0-9]+)\s*(?:ms|milliseconds?)$", re.I)
_NO_RTT = re.compile(r"^(?:NoConnection/Busy/Timeout|Unknown|N/A|-)$", re.I)

SHOW_SLA = "show ip sla statistics"
SHOW_TRACK = "show track"


def _count(value: str, device: str, what: str, name: str) -> int | None:
    if value.lower() == "unknown":
        return None
    return need_int(value, device, what, name, 0, MAX_COUNT)


@parser(SHOW_SLA)
def parse_sla_statistics(text: str, device: str = "?") -> dict[int, SlaResult]:
    """``show ip sla statistics`` (IOS, IOS-XE, NX-OS): entry number -> its latest result.

    Lines outside an entry (the banner, the echoed command, a fragment of a previous page) are
    skipped; output with text but no entry at all is not IP SLA output and is refused.
    """
    entries: dict[int, dict[str, object]] = {}
    current: dict[str, object] | None = None
    stray = False
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _SLA_HEADER.match(line)
        if m:
            index = need_int(m.group(1), device, SHOW_SLA, "operation id", 1, MAX_SLA_INDEX)
            if index in entries:
                raise ParseError(device, f"{SHOW_SLA}: operation id {index} printed twice")
            current = entries[index] = {}
            continue
        if current is None:
            stray = stray or not _SLA_BANNER.match(line)
            continue
        if m := _SLA_RTT.match(line):
            value = m.group(1)
            if (ms := _RTT_MS.match(value)) is not None:
                current["rtt"] = need_int(ms.group(1), device, SHOW_SLA, "latest RTT", 0, MAX_COUNT)
            elif not _NO_RTT.match(value):
                raise ParseError(device, f"{SHOW_SLA}: latest RTT {value[:40]!r} is not a round trip")
        elif m := _SLA_RC.match(line):
            current["rc"] = m.group(1)
        elif m := _SLA_COUNT.match(line):
            current[m.group(1).lower()] = _count(m.group(2), device, SHOW_SLA, f"number of {m.group(1).lower()}")
    if not entries and stray:
        raise ParseError(device, f"{SHOW_SLA}: no IP SLA entry in the output: {text.strip()[:80]!r}")
    return {
        i: SlaResult(
            index=i,
            return_code=str(e["rc"]) if "rc" in e else None,
            rtt_ms=e.get("rtt"),  # type: ignore[arg-type]
            successes=e.get("successes"),  # type: ignore[arg-type]
            failures=e.get("failures"),  # type: ignore[arg-type]
        )
        for i, e in entries.items()
    }


_TRACK_HEADER = re.compile(r"^Track\s+(\S+)\s*$")
_TRACK_SLA = re.compile(r"^\s*IP SLA\s+([0-9]+)\s+(\S.*?)\s*$", re.I)
# "Reachability is Up", "Line protocol is DOWN", "Reachability is Down (no ip route), delayed Up (...)",
# NX-OS "Reachability is delayed DOWN (5 secs remaining)".
_TRACK_STATE = re.compile(r"^\s*([A-Za-z][\w -]*?) is (delayed )?(up|down)\b", re.I)
_TRACK_KIND = re.compile(r"^(ipv6 route|ip route|interface|list|stub-object|boolean|threshold)\b")
_TRACK_RC = re.compile(r"^\s*Latest operation return code\s*:\s*(.*?)\s*$", re.I)
_TRACK_RTT = re.compile(r"^\s*Latest RTT \(millisecs\)\s*:?\s*([0-9]+)\s*$", re.I)


@parser(SHOW_TRACK)
def parse_track(text: str, device: str = "?") -> dict[int, TrackEntry]:
    """``show track`` (IOS, IOS-XE, NX-OS): object number -> its kind and state.

    A state printed as ``delayed DOWN`` (NX-OS: a change waiting for its delay) is the state
    the object is still in, i.e. up; IOS prints the current state first (``Down ..., delayed Up``).
    """
    blocks: list[tuple[int, list[str]]] = []
    stray = False
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _TRACK_HEADER.match(line.strip())
        if m:
            blocks.append((need_int(m.group(1), device, SHOW_TRACK, "track", 1, MAX_SLA_INDEX), []))
        elif blocks:
            blocks[-1][1].append(line)
        elif not line.strip().lower().startswith("show track"):
            stray = True
    if not blocks and stray:
        raise ParseError(device, f"{SHOW_TRACK}: no track object in the output: {text.strip()[:80]!r}")
    out: dict[int, TrackEntry] = {}
    for index, lines in blocks:
        if index in out:
            raise ParseError(device, f"{SHOW_TRACK}: track {index} printed twice")
        if not lines:
            raise ParseError(device, f"{SHOW_TRACK}: track {index} has no lines")
        first = " ".join(lines[0].split())
        sla = _TRACK_SLA.match(first)
        sla_index: int | None = None
        if sla:
            kind, parameter = "ip sla", sla.group(2).lower()
            sla_index = need_int(sla.group(1), device, SHOW_TRACK, "IP SLA", 1, MAX_SLA_INDEX)
        else:
            parameter = first.lower()
            known = _TRACK_KIND.match(parameter)
            kind = known.group(1) if known else parameter.split(" ")[0]
        up: bool | None = None
        rc: str | None = None
        rtt: int | None = None
        for line in lines[1:]:
            if up is None and (m := _TRACK_STATE.match(line)):
                said_up = m.group(3).lower() == "up"
                up = not said_up if m.group(2) else said_up
            elif m := _TRACK_RC.match(line):
                rc = m.group(1)
            elif m := _TRACK_RTT.match(line):
                rtt = need_int(m.group(1), device, SHOW_TRACK, "latest RTT", 0, MAX_COUNT)
        if up is None:
            raise ParseError(device, f"{SHOW_TRACK}: track {index} has no state line")
        out[index] = TrackEntry(index=index, kind=kind, sla=sla_index, parameter=parameter, up=up,
                                return_code=rc, rtt_ms=rtt)
    return out


_RC_UP = {"ok", "over threshold", "overthreshold"}
_RC_NO_RESULT = {"", "unknown", "other", "busy", "no result"}


def return_code_state(code: str | None) -> ReachState:
    """An IP SLA return code as a path state: OK and Over threshold reach the target; Unknown,
    Busy and none mean the prober has no result; every other code (Timeout, No connection, ...)
    is a path that does not answer."""
    word = " ".join((code or "").lower().split())
    if word in _RC_UP:
        return "up"
    if word in _RC_NO_RESULT:
        return "unknown"
    return "down"


def ipsla_readings(stats: Mapping[int, SlaResult], tracks: Mapping[int, TrackEntry],
                   probes: Sequence[ReachProbe], now: float = 0.0) -> dict[str, ReachReading]:
    """The readings of ``probes`` from ``show ip sla statistics`` and ``show track`` (IP SLA entry
    and track object ``probe.index``).

    The verdict is track ``index``'s state when it follows IP SLA ``index`` (it carries the
    configured delays), else the entry's return code. ``sent``/``lost`` stay 0: IP SLA counts
    successes and failures since the entry started, not over the probe's window.
    """
    out: dict[str, ReachReading] = {}
    for p in probes:
        rate = 1.0 / ipsla_frequency(p)
        entry = stats.get(p.index)
        if entry is None:
            out[p.key] = unknown(p, f"IP SLA {p.index} is not configured on the device", rate)
            continue
        by_code = return_code_state(entry.return_code)
        if by_code == "unknown" or (entry.successes, entry.failures) in ((0, 0), (None, None)):
            out[p.key] = unknown(p, f"IP SLA {p.index} has no result yet (return code {entry.return_code or 'none'}: "
                                    "not scheduled, or its first operation is pending)", rate)
            continue
        track = tracks.get(p.index)
        state: ReachState = by_code
        if track is not None and track.kind == "ip sla" and track.sla == p.index:
            state = "up" if track.up else "down"
        rtt = entry.rtt_ms if entry.rtt_ms is not None else (track.rtt_ms if track is not None else None)
        out[p.key] = ReachReading(
            key=p.key, state=state, rtt=rtt / 1000.0 if rtt is not None and by_code == "up" else None,
            at=now, rate=rate,
        )
    return out


# -- SNMP: CISCO-RTTMON-MIB -----------------------------------------------------------------------------

RTTMON_LATEST_OPER = "1.3.6.1.4.1.9.9.42.1.2.10.1"  # rttMonLatestRttOperEntry
RTTMON_COMPLETION_TIME = RTTMON_LATEST_OPER + ".1"  # rttMonLatestRttOperCompletionTime (ms)
RTTMON_SENSE = RTTMON_LATEST_OPER + ".2"  # rttMonLatestRttOperSense (RttResponseSense)

# RttResponseSense (CISCO-RTTMON-TC-MIB).
RTT_SENSE: dict[int, str] = {
    0: "other", 1: "ok", 2: "disconnected", 3: "overThreshold", 4: "timeout", 5: "busy", 6: "notConnected",
    7: "dropped", 8: "sequenceError", 9: "verifyError", 10: "applicationSpecific", 11: "dnsServerTimeout",
    12: "tcpConnectTimeout", 13: "httpTransactionTimeout", 14: "dnsQueryError", 15: "httpError", 16: "error",
}
_SENSE_UP = {1, 3}  # ok, overThreshold: the target answered
_SENSE_NO_RESULT = {0, 5}  # other (no operation yet), busy (the prober did not run)


def _oid(name: object) -> str:
    return str(name).lstrip(".")


def _column_rows(varbinds: Sequence[tuple[str, object]], table: str, device: str, what: str
                 ) -> list[tuple[int, list[int], object]]:
    """(column, index sub-identifiers, value) of the varbinds under ``table`` (others skipped)."""
    rows = []
    prefix = table + "."
    for name, value in varbinds:
        oid = _oid(name)
        if not oid.startswith(prefix):
            continue
        parts = oid[len(prefix):].split(".")
        if len(parts) < 2 or not all(p.isascii() and p.isdigit() for p in parts):
            raise ParseError(device, f"{what}: malformed OID {oid[:80]!r}")
        rows.append((int(parts[0]), [int(p) for p in parts[1:]], value))
    return rows


def _mib_int(value: object, device: str, what: str, name: str, hi: int) -> int | None:
    """An integer varbind value; None for an absent one (noSuchInstance comes as None)."""
    if value is None:
        return None
    return need_int(value, device, what, name, 0, hi)


@parser("CISCO-RTTMON-MIB")
def rttmon_readings(varbinds: Sequence[tuple[str, object]], probes: Sequence[ReachProbe], now: float = 0.0,
                    device: str = "?") -> dict[str, ReachReading]:
    """``rttMonLatestRttOperTable`` varbinds (a walk or a get of ``.1`` and ``.2`` per entry) ->
    the readings of ``probes`` (IP SLA entry ``probe.index``)."""
    what = "CISCO-RTTMON-MIB"
    sense: dict[int, int | None] = {}
    completion: dict[int, int | None] = {}
    for column, index, value in _column_rows(varbinds, RTTMON_LATEST_OPER, device, what):
        if len(index) != 1:
            raise ParseError(device, f"{what}: entry index {'.'.join(map(str, index))[:40]} is not one number")
        if column == 2:
            sense[index[0]] = _mib_int(value, device, what, "rttMonLatestRttOperSense", 255)
        elif column == 1:
            completion[index[0]] = _mib_int(value, device, what, "rttMonLatestRttOperCompletionTime", MAX_COUNT)
    out: dict[str, ReachReading] = {}
    for p in probes:
        rate = 1.0 / ipsla_frequency(p)
        code = sense.get(p.index)
        if p.index not in sense or code is None:
            out[p.key] = unknown(p, f"IP SLA {p.index} is not in CISCO-RTTMON-MIB (not configured)", rate)
        elif code in _SENSE_NO_RESULT:
            out[p.key] = unknown(p, f"IP SLA {p.index} has no result yet ({RTT_SENSE[code]})", rate)
        else:
            up = code in _SENSE_UP
            ms = completion.get(p.index)
            out[p.key] = ReachReading(
                key=p.key, state="up" if up else "down",
                rtt=ms / 1000.0 if up and ms is not None else None, at=now, rate=rate,
            )
    return out


# -- SNMP: DISMAN-PING-MIB (RFC 4560; Junos RPM tests appear in it) ----------------------------------------

PING_RESULTS = "1.3.6.1.2.1.80.1.3.1"  # pingResultsEntry
PING_OPER_STATUS = 1  # enabled(1) disabled(2) completed(3)
PING_AVERAGE_RTT = 6  # ms
PING_PROBE_RESPONSES = 7
PING_SENT_PROBES = 8


def _octets(parts: list[int], at: int, device: str, what: str) -> tuple[str, int]:
    """A length-prefixed SnmpAdminString index component starting at ``parts[at]``."""
    if at >= len(parts):
        raise ParseError(device, f"{what}: truncated index")
    n = parts[at]
    chars = parts[at + 1: at + 1 + n]
    if len(chars) != n or not all(32 <= c < 127 for c in chars):
        raise ParseError(device, f"{what}: malformed owner/test name in an index")
    return "".join(map(chr, chars)), at + 1 + n


@parser("DISMAN-PING-MIB")
def ping_mib_readings(varbinds: Sequence[tuple[str, object]], probes: Sequence[ReachProbe],
                      names: Callable[[ReachProbe], tuple[str, str]], now: float = 0.0, device: str = "?",
                      interval: Callable[[ReachProbe], float] | None = None) -> dict[str, ReachReading]:
    """``pingResultsTable`` varbinds -> the readings of ``probes``; ``names(probe)`` is the
    (owner, test name) of its row. Loss is judged over the probes of the row's current test
    (``pingResultsSentProbes`` / ``pingResultsProbeResponses``) against ``probe.max_loss``."""
    what = "DISMAN-PING-MIB"
    rows: dict[tuple[str, str], dict[int, int | None]] = {}
    for column, index, value in _column_rows(varbinds, PING_RESULTS, device, what):
        owner, at = _octets(index, 0, device, what)
        test, at = _octets(index, at, device, what)
        if at != len(index):
            raise ParseError(device, f"{what}: trailing sub-identifiers in an index")
        if column in (PING_OPER_STATUS, PING_AVERAGE_RTT, PING_PROBE_RESPONSES, PING_SENT_PROBES):
            rows.setdefault((owner, test), {})[column] = _mib_int(value, device, what, f"column {column}", MAX_COUNT)
    out: dict[str, ReachReading] = {}
    for p in probes:
        seconds = interval(p) if interval is not None else p.interval
        rate = 1.0 / seconds if seconds > 0 else None
        owner, test = names(p)
        row = rows.get((owner, test))
        if row is None:
            out[p.key] = unknown(p, f"ping test {owner}/{test} is not in DISMAN-PING-MIB (not configured)", rate)
            continue
        status, sent, answered = row.get(PING_OPER_STATUS), row.get(PING_SENT_PROBES), row.get(PING_PROBE_RESPONSES)
        if status == 2:
            out[p.key] = unknown(p, f"ping test {owner}/{test} is disabled", rate)
        elif not sent or answered is None:
            out[p.key] = unknown(p, f"ping test {owner}/{test} has no result yet", rate)
        elif answered > sent:
            raise ParseError(device, f"{what}: {owner}/{test}: {answered} responses to {sent} probes")
        else:
            lost = sent - answered
            avg = row.get(PING_AVERAGE_RTT)
            out[p.key] = ReachReading(
                key=p.key, state="down" if lost / sent > p.max_loss else "up", sent=sent, lost=lost,
                rtt=avg / 1000.0 if avg is not None and answered else None, at=now, rate=rate,
            )
    return out
