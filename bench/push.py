"""Decision -> priority-0 advertisement on the wire, for an emergency failover (issue 14).

    sudo NETHA_LAB_NAME=ev RUNS=5 .venv/bin/python bench/push.py                       # FRR: lan, r1 -> r2
    sudo NETHA_LAB_NAME=ev RUNS=5 .venv/bin/python bench/push.py klan k1 k2 eth4 198.18.4.2   # keepalived

The lab must be up. t0 is the executor starting the plan (right after the decision); the advert's
time is its kernel receive timestamp (SO_TIMESTAMPNS) on the controller's listener leg of the LAN.
The pair is put back (lab Baseline) after every run. Prints each run with the load average.
"""
from pathlib import Path
import os, socket, struct, sys, threading, time, yaml
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from netha.lab.names import lab_names
from netha.connect import load_checked_inventory
from netha.netns import enter_netns
from netha.controller.runtime import Runtime
from netha.observe.observer import ObserverOptions
from netha.health import assess
from netha.takeover.plan import Planner
group, old, new, leg, src = (sys.argv[1:6] if len(sys.argv) > 5 else ("lan", "r1", "r2", "eth1", "198.18.1.2"))
runs = int(os.environ.get("RUNS", "5"))
import tempfile
TMP = Path(tempfile.mkdtemp(prefix="netha-push-"))
doc = lab_names().inventory(yaml.safe_load(open(str(ROOT / "inventories" / "lab.yml"))))
doc["controller"]["state_dir"] = str(TMP / "state")
for g in doc["groups"].values():
    g["track"] = [t for t in g.get("track", []) if "reach" not in t]
(TMP / "push.yml").write_text(yaml.safe_dump(doc))
inv = load_checked_inventory(TMP / "push.yml")
enter_netns(inv.controller.netns)
SO_TIMESTAMPNS = 35
def sniff(out, stop):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind((leg, 0)); s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1); s.settimeout(0.2)
    while not stop.is_set():
        try:
            data, anc, _, _ = s.recvmsg(2048, 1024)
        except socket.timeout:
            continue
        if len(data) < 28 or data[9] != 112: continue
        ihl = (data[0] & 15) * 4
        saddr = socket.inet_ntoa(data[12:16]); prio = data[ihl + 2]
        ts = None
        for lvl, typ, val in anc:
            if typ == SO_TIMESTAMPNS:
                sec, ns = struct.unpack("qq", val[:16]); ts = sec + ns / 1e9
        if saddr == src and prio == 0 and "t" not in out:
            out["t"] = ts or time.time()
from netha.lab.faults import Baseline, KeepalivedBaseline
base = KeepalivedBaseline() if group.startswith("k") else Baseline()
rt = Runtime.build(inv, observer=ObserverOptions(listener=False, snmp=False, reach=False, events=False))
rt.executor.fence = None  # a single bench controller: no leadership to hold
rt.sessions.warm()
planner = Planner(inv)
res = []
for i in range(runs):
    snap = rt.observer.observe_once(listen=0)
    a = assess(inv, snap)
    plan = planner.failover(group, new, a, "emergency")
    out, stop = {}, threading.Event()
    th = threading.Thread(target=sniff, args=(out, stop)); th.start(); time.sleep(0.3)
    t0 = time.time()
    o = rt.executor.run(plan, reason="bench push", origin="manual")
    time.sleep(0.2); stop.set(); th.join()
    dt = (out["t"] - t0) * 1000 if "t" in out else None
    res.append(dt)
    print(o.message); print(f"run {i}: ok={o.ok} prio0 advert after {dt if dt is None else round(dt,1)} ms; plan {o.seconds:.3f}s; load {os.getloadavg()[0]:.2f}", flush=True)
    time.sleep(1.0)
    snap = rt.observer.observe_once(listen=0)
    base.restore()
    time.sleep(1.0)
import statistics
ok = [r for r in res if r is not None]
print("median", round(statistics.median(ok),1) if ok else None, "all", [round(r,1) if r else None for r in res])
rt.close()
