"""Probe traffic for the lab: a UDP sender with sequence numbers and a receiver that logs arrivals.

    ip netns exec nh-wan python -m netha.lab.traffic recv --bind 198.18.2.100 --out /tmp/arrivals
    ip netns exec nh-h1  python -m netha.lab.traffic send --to 198.18.2.100 --interval 0.01 --out /tmp/sent

Both sides write one binary record per packet (seq, monotonic time) so that a test or a
benchmark can count lost probes and the black-hole time (first lost probe to first delivered
again). CLOCK_MONOTONIC is one clock for every namespace of the machine.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

RECORD = struct.Struct("!Qd")  # seq, monotonic seconds
PORT = 9999


@dataclass(frozen=True)
class Endpoint:
    node: str  # the lab node that sends and receives
    addr: str  # its address: the probes' destination (and source) there


@dataclass(frozen=True)
class ProbePair:
    """A LAN host and an upstream host that probe each other through a redundancy group's gateway."""

    lan: Endpoint
    upstream: Endpoint


# The lab's probe pairs (lab/netha.clab.yml): each LAN host with wan (the next hop's segment) and with
# far (beyond the ISPs: r1/k1 reach it through isp1, r2/k2 through isp2).
PAIRS = {
    "h1-wan": ProbePair(Endpoint("h1", "198.18.1.100"), Endpoint("wan", "198.18.2.100")),
    "h3-wan": ProbePair(Endpoint("h3", "198.18.4.100"), Endpoint("wan", "198.18.5.100")),
    "h1-far": ProbePair(Endpoint("h1", "198.18.1.100"), Endpoint("far", "198.18.10.100")),
    "h3-far": ProbePair(Endpoint("h3", "198.18.4.100"), Endpoint("far", "198.18.10.100")),
    # The same over IPv6 (2001:2::/48), through the IPv6 virtual gateways (groups 21 and 31).
    "h1-wan6": ProbePair(Endpoint("h1", "2001:2:0:1::100"), Endpoint("wan", "2001:2:0:2::100")),
    "h3-wan6": ProbePair(Endpoint("h3", "2001:2:0:4::100"), Endpoint("wan", "2001:2:0:5::100")),
    "h1-far6": ProbePair(Endpoint("h1", "2001:2:0:1::100"), Endpoint("far", "2001:2:0:a::100")),
    "h3-far6": ProbePair(Endpoint("h3", "2001:2:0:4::100"), Endpoint("far", "2001:2:0:a::100")),
}


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def pair_port(pair: str) -> int:
    """The UDP port of a named pair's probes: pairs that share an endpoint (h1-far and h3-far: far) run at once."""
    return PORT + list(PAIRS).index(pair)


def send(to: str, interval: float, out: Path, duration: float | None = None, port: int = PORT,
         src: str | None = None) -> None:
    sock = socket.socket(_family(to), socket.SOCK_DGRAM)
    if src:  # a host with several addresses (far: its loopback) sends from the one the far side routes back to
        sock.bind((src, 0))
    stop = _stopper()
    seq = 0
    start = time.monotonic()
    with out.open("wb", buffering=0) as f:
        next_at = start
        while not stop["now"] and (duration is None or time.monotonic() - start < duration):
            now = time.monotonic()
            try:
                sock.sendto(RECORD.pack(seq, now), (to, port))
            except OSError:
                pass  # no route / ARP failure counts as a lost probe, the receiver never sees it
            f.write(RECORD.pack(seq, now))
            seq += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def recv(bind: str, out: Path, port: int = PORT) -> None:
    sock = socket.socket(_family(bind), socket.SOCK_DGRAM)
    sock.bind((bind, port))
    sock.settimeout(0.2)
    stop = _stopper()
    with out.open("wb", buffering=0) as f:
        while not stop["now"]:
            try:
                data = sock.recv(64)
            except socket.timeout:
                continue
            if len(data) >= RECORD.size:
                seq, _sent = RECORD.unpack_from(data)
                f.write(RECORD.pack(seq, time.monotonic()))


def _stopper() -> dict[str, bool]:
    flag = {"now": False}

    def handler(*_):
        flag["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return flag


def read_records(path: Path) -> list[tuple[int, float]]:
    data = path.read_bytes()
    n = len(data) // RECORD.size
    return [RECORD.unpack_from(data, i * RECORD.size) for i in range(n)]


@dataclass(frozen=True)
class Loss:
    sent: int
    received: int
    lost: int
    blackhole: float  # seconds from the first lost probe to the first probe delivered after it (longest such gap)
    first_lost_at: float | None  # monotonic send time of the first lost probe
    recovered_at: float | None  # monotonic send time of the first probe delivered after the longest gap
    lost_seqs: tuple[int, ...]


LATE = 0.1  # a probe arriving more than this after it was sent was held in a queue: for traffic, lost


def analyse(sent_path: Path, recv_path: Path, since: float | None = None, until: float | None = None,
            late: float = LATE) -> Loss:
    """Lost probes among those sent in [since, until], and the longest run of consecutive losses.

    A probe that arrives more than ``late`` seconds after it was sent counts as lost: hosts queue
    packets while they re-resolve the gateway, and a voice or control packet that late is gone.
    """
    sent = read_records(sent_path)
    sent_at = dict(sent)
    got = {seq for seq, arrived in read_records(recv_path) if seq in sent_at and arrived - sent_at[seq] <= late}
    window = [(s, t) for s, t in sent if (since is None or t >= since) and (until is None or t <= until)]
    # Probes sent in the last 50 ms may still be in flight: do not call them lost.
    if window and until is None:
        last_t = sent[-1][1]
        window = [(s, t) for s, t in window if t <= last_t - 0.05]
    lost = [(s, t) for s, t in window if s not in got]
    best = (0.0, None, None)
    run_start = None
    prev_lost_seq = None
    send_time = dict(window)
    for s, t in lost:
        if prev_lost_seq is None or s != prev_lost_seq + 1:
            run_start = t
        prev_lost_seq = s
        nxt = send_time.get(s + 1)
        if nxt is not None and (s + 1) in got:
            gap = nxt - run_start
            if gap > best[0]:
                best = (gap, run_start, nxt)
    if lost and prev_lost_seq is not None and (prev_lost_seq + 1) not in got:
        # Still losing at the end of the window: the black hole lasts at least until then.
        end = window[-1][1]
        if end - run_start > best[0]:
            best = (end - run_start, run_start, None)
    return Loss(len(window), len(window) - len(lost), len(lost), best[0], best[1], best[2], tuple(s for s, _ in lost))


def outages(sent_path: Path, recv_path: Path, since: float | None = None, late: float = LATE,
            min_lost: int = 3) -> list[tuple[float, float]]:
    """Every run of at least ``min_lost`` consecutive lost probes sent after ``since``: (start, seconds).

    A "second outage" is a second such run: what a crash or a bad rollback costs on top of the failure.
    """
    sent = read_records(sent_path)
    if not sent:
        return []
    sent_at = dict(sent)
    got = {seq for seq, arrived in read_records(recv_path) if seq in sent_at and arrived - sent_at[seq] <= late}
    last_t = sent[-1][1]
    window = [(s, t) for s, t in sent if (since is None or t >= since) and t <= last_t - 0.05]
    runs: list[tuple[float, float]] = []
    start: float | None = None
    count = 0
    for s, t in window:
        if s in got:
            if start is not None and count >= min_lost:
                runs.append((start, t - start))
            start, count = None, 0
        else:
            start = t if start is None else start
            count += 1
    if start is not None and count >= min_lost:
        runs.append((start, window[-1][1] - start))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m netha.lab.traffic")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--duration", type=float)
    s.add_argument("--src", help="source address (default: the kernel's choice)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--port", type=int, default=PORT)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--port", type=int, default=PORT)
    args = ap.parse_args()
    if args.cmd == "send":
        send(args.to, args.interval, args.out, args.duration, port=args.port, src=args.src)
    else:
        recv(args.bind, args.out, port=args.port)


if __name__ == "__main__":
    main()
