"""The netha demo: lab up, controller on, break the primary's uplink, watch the takeover, fail back, lab down.

Run by scripts/demo.sh (which installs everything first). Needs root.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netha import lab  # noqa: E402
from netha.lab.traffic import analyse  # noqa: E402

NETHA = [sys.executable, "-m", "netha"]
INV = str(ROOT / "inventories" / "lab.yml")


def say(text: str) -> None:
    print(f"\n\033[1;36m== {text}\033[0m", flush=True)


def netha(*args: str) -> int:
    return subprocess.call([*NETHA, *args], cwd=ROOT)


def sw(port: str, state: str) -> None:
    subprocess.run(["ip", "-n", "nh-sw", "link", "set", port, state], check=True)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="netha-demo-"))
    procs: list[subprocess.Popen] = []
    try:
        say("netha lab up: FRR routers r1 (primary) and r2 (backup), VRRPv3 at 100 ms, in network namespaces")
        t0 = time.monotonic()
        lab.up()
        print(f"lab up in {time.monotonic() - t0:.1f}s")
        say("netha status: both routers over SSH (vtysh) and SNMP, advertisements heard on the wire")
        netha("status", "-i", INV)

        say("h1 sends a UDP probe to wan through the virtual gateway every 10 ms")
        sent, recv = tmp / "sent", tmp / "recv"
        procs.append(subprocess.Popen(["ip", "netns", "exec", "nh-wan", sys.executable, "-m", "netha.lab.traffic", "recv",
                                       "--bind", "198.18.2.100", "--out", str(recv)], cwd=ROOT))
        time.sleep(0.3)
        procs.append(subprocess.Popen(["ip", "netns", "exec", "nh-h1", sys.executable, "-m", "netha.lab.traffic", "send",
                                       "--to", "198.18.2.100", "--out", str(sent)], cwd=ROOT))

        say("netha run: the daemon polls every 100 ms and acts on its own")
        log = (tmp / "daemon.log").open("w")
        daemon = subprocess.Popen([*NETHA, "--log-level", "warning", "run", "-i", INV], cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(daemon)
        time.sleep(3)

        say("break the primary: r1's uplink goes down (r1 keeps advertising on the LAN: a gray failure VRRP cannot see)")
        t_fail = time.monotonic()
        sw("r1-eth2", "down")
        time.sleep(3)
        loss = analyse(sent, recv, since=t_fail)
        print(f"probes lost: {loss.lost} (black hole {loss.blackhole * 1000:.0f} ms)")
        netha("status", "-i", INV)

        say("the daemon's decisions")
        print("".join(line for line in (tmp / "daemon.log").read_text().splitlines(True) if "decision" in line or "verified" in line))

        say("repair the uplink: after the hold-down (10 s) the daemon fails back to r1")
        sw("r1-eth2", "up")
        time.sleep(14)
        netha("status", "-i", INV)
        say("netha history: the audit log")
        netha("history", "-i", INV)
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        say("netha lab down")
        lab.down()
        print("lab removed: no namespace, process or file left" if not any(
            ns.startswith("nh-") for ns in os.popen("ip netns list").read().split()) else "WARNING: leftovers")


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("the demo needs root (network namespaces)")
    sys.exit(main())
