"""CPU of the idle daemon's wire paths, per frame and per probe: no root, no lab, no device.

    .venv/bin/python bench/wire_cpu.py [--seconds 3] [--rounds 2000] [--repeat 5]
    PYTHONPATH=/tmp/netha_old .venv/bin/python bench/wire_cpu.py   # another netha (e.g. ``git archive`` of an older commit)

Prints one JSON document to stdout. Two kinds of figures:

- ``micro``: the code paths fed by hand in a loop, as the unit tests feed them (CPU of this thread,
  ``time.thread_time``, the median of ``--repeat`` runs), in microseconds per frame or probe:
  ``adverts_same`` the listener's ``handle`` + ``tick`` for the lab's 8 VRRP groups (4 IPv4, 4 IPv6,
  captured FRR and keepalived frames among them) repeating their adverts every 100 ms;
  ``adverts_changing`` the same with each master's priority toggling (no two successive adverts of a
  master alike: two packets alternate); ``adverts_unique`` no packet like another (each IPv4
  identification or IPv6 flow label differs: every packet is parsed); ``arp_probe_reply`` / ``nd_probe_reply`` a probe (``probe``) and its answer
  (``handle``) for the lab's member addresses (ARP: 4 legs x 2, ND: 3 legs x 2); ``checksum_na`` the
  Internet checksum of a Neighbor Advertisement with its pseudo-header.
- ``loop``: the real receive/probe threads (``AdvertListener._run``, ``ArpWatch._run``,
  ``NdWatch._run``) for ``--seconds`` in real time on Unix datagram socket pairs standing in for the
  legs (the packet sockets need root): a sender thread plays the lab's masters (an advert per group
  every 100 ms), a responder thread per leg answers the probes. The CPU of the watched thread only
  (its own clock, ``pthread_getcpuclockid``), per frame or probe, and in % of one core.
- ``snmp`` (with ``--snmp``, where Net-SNMP's ``snmpd`` is installed): an ``snmpd`` of its own on
  127.0.0.1 (an unprivileged port, its own config and state in a temporary folder, stopped at the
  end), polled ``--snmp-polls`` times as the observer polls a healthy device (one GET: sysUpTime,
  sysName, three ifOperStatus; no VRRP walk): CPU of the poller's thread per poll.

The figures are relative: compare two runs on one machine, close in time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import struct
import sys
import threading
import time
from pathlib import Path

import netha
from netha.observe import arpwatch, ndwatch
from netha.observe.adverts import AdvertListener, advert_frame, craft_advert
from netha.observe.arpwatch import ArpWatch
from netha.observe.inet import ICMPV6, checksum, icmpv6_packet, pseudo6
from netha.observe.ndwatch import NdWatch

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "unit" / "fixtures" / "adverts"
OWN = bytes.fromhex("020000000001")

# The lab's VRRP groups (inventories/lab.yml): (leg, source, VRID, addresses); IPv6 sources are link-local.
GROUPS4 = [("eth1", "198.18.1.2", 1, ["198.18.1.1"]), ("eth2", "198.18.2.2", 2, ["198.18.2.1"]),
           ("eth4", "198.18.4.2", 11, ["198.18.4.1"]), ("eth2", "198.18.5.2", 12, ["198.18.5.1"])]
GROUPS6 = [("eth1", "fe80::9b2a:c16e:b6ff:8aa4", 21, ["2001:2:0:1::1"]),
           ("eth2", "fe80::9b2a:c16e:b6ff:8aa5", 22, ["2001:2:0:2::1"]),
           ("eth4", "fe80::1e:aeff:fe29:62c7", 31, ["fe80::200:5eff:fe00:21f", "2001:2:0:4::1"]),
           ("eth2", "fe80::1e:aeff:fe29:62c8", 32, ["fe80::200:5eff:fe00:220", "2001:2:0:5::1"])]
ARP_TARGETS = {f"eth{n}": [f"198.18.{n}.2", f"198.18.{n}.3"] for n in (1, 2, 3, 4)}
ND_TARGETS = {"eth1": ["2001:2:0:1::2", "2001:2:0:1::3"], "eth2": ["2001:2:0:2::2", "2001:2:0:2::3"],
              "eth4": ["2001:2:0:4::2", "2001:2:0:4::3"]}


def router_mac(address: str) -> bytes:
    return bytes([2, 0, 0, 0, 0]) + bytes([sum(socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET,
                                                                 address)) & 0xFF])


def advert_packets(priority: int = 200) -> list[tuple[str, bytes]]:
    """(leg, IP packet) of every group's master: the captured FRR frames where they exist, crafted ones else."""
    out = [(leg, craft_advert(src, vrid, priority, 0.1, 3, "rfc5798", addrs)) for leg, src, vrid, addrs in GROUPS4 + GROUPS6]
    if priority == 200:
        out[0] = ("eth1", bytes.fromhex((FIXTURES / "frr-8.4-master-v3.hex").read_text().strip()))
        out[4] = ("eth1", bytes.fromhex((FIXTURES / "frr-8.4-master-v3-ipv6.hex").read_text().strip()))
    return out


def arp_reply(sender_ip: str, sender_mac: bytes, target_mac: bytes) -> bytes:
    """An ARP reply as Linux sends it to a probe (to the prober's MAC, target IP 0.0.0.0), padded to 60 bytes."""
    frame = target_mac + sender_mac + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, 2) + sender_mac \
        + socket.inet_aton(sender_ip) + target_mac + socket.inet_aton("0.0.0.0")
    return frame + b"\0" * (60 - len(frame))


def na_reply(target: str, mac: bytes, dst_mac: bytes, dst_ip: str) -> bytes:
    """A solicited Neighbor Advertisement (router, solicited, override; target link-layer address option)."""
    import ipaddress

    icmp = struct.pack("!BBHB3x16s", 136, 0, 0, 0xE0, ipaddress.IPv6Address(target).packed) + bytes([2, 1]) + mac
    ip = icmpv6_packet(ipaddress.IPv6Address(target), ipaddress.IPv6Address(dst_ip), icmp)
    return dst_mac + mac + b"\x86\xdd" + ip


def cpu_us(fn, n: int, repeat: int) -> float:
    """Median CPU microseconds per item of FN() (which handles N items), over REPEAT runs."""
    runs = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        runs.append((time.thread_time() - t0) / n * 1e6)
    return round(statistics.median(runs), 2)


# -- micro ------------------------------------------------------------------------------------------------
def unique(ip: bytes, n: int) -> bytes:
    """IP packet IP made unlike any other by its IPv4 identification or IPv6 flow label (no VRRP field changes)."""
    if ip[0] >> 4 == 6:
        return ip[:1] + bytes([ip[1] & 0xF0 | (n >> 16) & 0x0F]) + struct.pack("!H", n & 0xFFFF) + ip[4:]
    return ip[:4] + struct.pack("!H", n & 0xFFFF) + ip[6:]


def micro_adverts(rounds: int, repeat: int, mode: str) -> float:
    """mode: ``same`` (each master's adverts alike), ``changing`` (each master's priority toggling: two
    packets alternate), ``unique`` (no packet like another: each one parsed)."""
    same = advert_packets(200)
    other = advert_packets(150)
    rounds_pkts = []
    for r in range(rounds):
        pkts = other if mode == "changing" and r % 2 else same
        if mode == "unique":
            pkts = [(leg, unique(ip, r)) for leg, ip in pkts]
        rounds_pkts.append(pkts)

    def run() -> None:
        li = AdvertListener([])
        for r, pkts in enumerate(rounds_pkts):
            for n, (leg, ip) in enumerate(pkts):
                now = r * 0.1 + n * 0.01
                li.handle(leg, ip, now)
                li.tick(now)
        assert li.stats()["adverts"] == rounds * len(same), li.stats()

    return cpu_us(run, rounds * len(same), repeat)


def micro_watch(cls, targets: dict[str, list[str]], rounds: int, repeat: int) -> float:
    def reply_for(leg: str, address: str) -> bytes:
        if cls is NdWatch:
            return na_reply(address, router_mac(address), OWN, str(ndwatch.eui64_link_local(OWN)))
        return arp_reply(address, router_mac(address), OWN)

    replies = {(leg, a): reply_for(leg, a) for leg, addrs in targets.items() for a in addrs}
    n_probes = rounds * len(replies)

    def run() -> None:
        w = cls(targets)
        for r in range(rounds):
            now = r * 0.1
            for (leg, address), frame in replies.items():
                w.probe(leg, address, now, OWN)
                w.handle(leg, frame, now + 0.001, OWN)
        assert w.stats()["replies"] == n_probes, w.stats()

    return cpu_us(run, n_probes, repeat)


def micro_checksum(rounds: int, repeat: int) -> float:
    frame = na_reply("2001:2:0:1::2", router_mac("2001:2:0:1::2"), OWN, "fe80::1")
    ip = frame[14:]
    data = pseudo6(ip[8:24], ip[24:40], len(ip) - 40, ICMPV6) + ip[40:]
    n = rounds * 10

    def run() -> None:
        for _ in range(n):
            checksum(data)

    return cpu_us(run, n, repeat)


# -- loops in real time -----------------------------------------------------------------------------------
def thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def loop_adverts(seconds: float) -> dict[str, float]:
    """The listener's thread over socket pairs, the lab's masters advertising every 100 ms."""
    legs = sorted({leg for leg, _ in advert_packets()})
    pairs = {leg: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for leg in legs}
    li = AdvertListener(legs)
    for leg, (ours, _) in pairs.items():
        ours.setblocking(False)
        li._socks[ours] = leg
    li._wakeup = os.pipe()
    li._thread = threading.Thread(target=li._run, name="adverts", daemon=True)
    li._thread.start()
    frames = [(leg, advert_frame(ip)) for leg, ip in advert_packets()]
    rnd = random.Random(7)
    phase = [rnd.random() * 0.1 for _ in frames]
    start = time.monotonic() + 0.05
    sent = 0
    cpu0 = thread_cpu(li._thread)
    t_end = start + seconds
    # Each master's adverts at phase + k * 100 ms: send the earliest due one, sleep until the next.
    schedule = sorted((start + p, n) for n, p in enumerate(phase))
    while True:
        due, n = schedule[0]
        if due >= t_end:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        leg, frame = frames[n]
        pairs[leg][1].send(frame)
        sent += 1
        schedule[0] = (due + 0.1, n)
        schedule.sort()
    time.sleep(0.02)
    cpu = thread_cpu(li._thread) - cpu0
    heard = li.stats()["adverts"]
    li.stop()
    for _, far in pairs.values():
        far.close()
    return {"frames": sent, "heard": heard, "us_per_frame": round(cpu / max(1, sent) * 1e6, 2),
            "core_percent": round(100 * cpu / seconds, 3)}


class Responder:
    """The far end of a leg: answers each probe at once (ARP reply or solicited NA) from the router's MAC."""

    def __init__(self, nd: bool):
        self.watch_end, self.far = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.nd = nd
        self.probes = 0
        self._stop = threading.Event()
        self._replies: dict[bytes, bytes] = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, probe: bytes) -> bytes:
        if self.nd:
            target = socket.inet_ntop(socket.AF_INET6, probe[62:78])
            src = socket.inet_ntop(socket.AF_INET6, probe[22:38])
            return na_reply(target, router_mac(target), probe[6:12], src)
        target = socket.inet_ntoa(probe[38:42])
        return arp_reply(target, router_mac(target), probe[22:28])

    def _serve(self) -> None:
        self.far.settimeout(0.05)
        while not self._stop.is_set():
            try:
                probe = self.far.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.probes += 1
            key = probe[:64] if not self.nd else probe[:86]
            if key not in self._replies:
                self._replies[key] = self._answer(probe)
            try:
                self.far.send(self._replies[key])
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self.thread.join(1)
        self.far.close()


def loop_watch(cls, module, targets: dict[str, list[str]], seconds: float) -> dict[str, float]:
    nd = cls is NdWatch
    legs = {leg: Responder(nd) for leg in targets}

    def fake_open(iface: str):
        s = legs[iface].watch_end
        s.setblocking(False)
        return s, OWN

    real_open = module._open
    module._open = fake_open
    try:
        w = cls(targets, 0.1)
        w.start()
        assert w._thread is not None
        cpu0 = thread_cpu(w._thread)
        sent0 = w.stats()["sent"]
        time.sleep(seconds)
        cpu = thread_cpu(w._thread) - cpu0
        stats = w.stats()
        w.stop()
    finally:
        module._open = real_open
        for r in legs.values():
            r.close()
    probes = stats["sent"] - sent0
    return {"probes": probes, "replies": stats["replies"], "us_per_probe": round(cpu / max(1, probes) * 1e6, 2),
            "core_percent": round(100 * cpu / seconds, 3)}


def snmp_polls(polls: int) -> dict[str, object]:
    """CPU per SNMP poll of one device against a private snmpd on 127.0.0.1 (see the module's doc)."""
    import shutil
    import subprocess
    import tempfile

    from netha.observe.snmp import SnmpPoller, SnmpTarget

    snmpd = shutil.which("snmpd") or ("/usr/sbin/snmpd" if os.path.exists("/usr/sbin/snmpd") else None)
    if snmpd is None:
        return {"skipped": "no snmpd"}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="wire-cpu-snmpd-") as tmp:
        conf = Path(tmp) / "snmpd.conf"
        conf.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity wirecpu 127.0.0.1\n")
        proc = subprocess.Popen([snmpd, "-f", "-C", "-c", str(conf), "-Lf", str(Path(tmp) / "log"), "-p", str(Path(tmp) / "pid")],
                                env={**os.environ, "SNMP_PERSISTENT_DIR": tmp, "MIBS": ""},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poller = SnmpPoller([SnmpTarget("r1", "127.0.0.1", port, 1.0, 1, "2c", community="wirecpu")])
        try:
            ifaces = tuple(name for _, name in socket.if_nameindex())[:3]
            first = None
            for _ in range(50):  # until snmpd answers (it starts in well under a second)
                first = poller.poll({"r1": ifaces}, vrrp=())["r1"]
                if first.result.ok:
                    break
                time.sleep(0.1)
            if first is None or not first.result.ok:
                return {"skipped": f"snmpd did not answer: {first.result.error if first else None}"}
            clock = time.pthread_getcpuclockid(poller._thread.ident)  # type: ignore[arg-type]
            c0 = time.clock_gettime(clock)
            for _ in range(polls):
                poller.poll({"r1": ifaces}, vrrp=())
            cpu = time.clock_gettime(clock) - c0
        finally:
            poller.close()
            proc.terminate()
            proc.wait(5)
    return {"polls": polls, "interfaces": len(ifaces), "us_per_poll": round(cpu / polls * 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="each real-time loop's length")
    ap.add_argument("--rounds", type=int, default=2000, help="rounds of the micro loops (100 ms of the lab each)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each micro loop (the median is reported)")
    ap.add_argument("--no-loops", action="store_true", help="the micro figures only")
    ap.add_argument("--snmp", action="store_true", help="also the SNMP poll's CPU (a private snmpd on 127.0.0.1)")
    ap.add_argument("--snmp-polls", type=int, default=200)
    args = ap.parse_args()
    micro = {
        "adverts_same_us_per_frame": micro_adverts(args.rounds, args.repeat, "same"),
        "adverts_changing_us_per_frame": micro_adverts(args.rounds // 4, args.repeat, "changing"),
        "adverts_unique_us_per_frame": micro_adverts(args.rounds // 4, args.repeat, "unique"),
        "arp_probe_reply_us_per_probe": micro_watch(ArpWatch, ARP_TARGETS, args.rounds // 2, args.repeat),
        "nd_probe_reply_us_per_probe": micro_watch(NdWatch, ND_TARGETS, args.rounds // 2, args.repeat),
        "checksum_na_us_per_call": micro_checksum(args.rounds, args.repeat),
    }
    out: dict[str, object] = {"netha": str(Path(netha.__file__).parent), "python": sys.version.split()[0], "micro": micro}
    if not args.no_loops:
        out["loop"] = {
            "adverts": loop_adverts(args.seconds),
            "arpwatch": loop_watch(ArpWatch, arpwatch, ARP_TARGETS, args.seconds),
            "ndwatch": loop_watch(NdWatch, ndwatch, ND_TARGETS, args.seconds),
        }
    if args.snmp:
        out["snmp"] = snmp_polls(args.snmp_polls)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
