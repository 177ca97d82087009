"""Start and stop the daemons of one lab node (FRR, sshd, snmpd) inside its network namespace."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from .names import DEFAULT_USER, LabNames, lab_names
from .topology import Node

FRR_BIN = Path("/usr/lib/frr")
FRR_DAEMONS = ("zebra", "staticd", "vrrpd")
ETCD_BIN = "/usr/bin/etcd"
LAB_USER = DEFAULT_USER  # the default lab's; another lab's is LabNames(name).user
MARKER = ".netha-lab"


def netns(node: str, lab: LabNames | None = None) -> str:
    return (lab or lab_names()).netns(node)


def run(*argv: str, check: bool = True, env: dict | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {(r.stderr or r.stdout).strip().splitlines()[-1:] or r.returncode}")
    return r


def in_ns(node: str, *argv: str, check: bool = True, env: dict | None = None,
          lab: LabNames | None = None) -> subprocess.CompletedProcess:
    return run("ip", "netns", "exec", netns(node, lab), *argv, check=check, env=env)


@dataclass(frozen=True)
class Secrets:
    ssh_user: str
    ssh_password: str
    community: str
    v3_user: str
    v3_auth: str
    v3_priv: str


def pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


# SNMP notifications to the controllers (issue 14): IF-MIB linkDown/linkUp, numeric (the lab's snmpd
# loads no MIBs, and `linkUpDownNotifications yes` names its objects and checks every 60 s), from a
# DisMan monitor of ifOperStatus every second; keepalived's VRRPv3 notifications come through AgentX.
IF_NOTIFY_OBJECTS = "-o .1.3.6.1.2.1.2.2.1.1 -o .1.3.6.1.2.1.2.2.1.7 -o .1.3.6.1.2.1.2.2.1.8 -o .1.3.6.1.2.1.2.2.1.2"
NOTIFY_PORT = 162


def snmpd_notifications(sinks: Sequence[str], s: Secrets) -> str:
    """snmpd.conf lines: linkDown/linkUp within a second of a change, sent (SNMPv2c) to every sink."""
    if not sinks:
        return ""
    lines = [f"trap2sink {addr}:{NOTIFY_PORT} {s.community}" for addr in sinks] + [
        # The monitor's own queries need a user of their own (snmpd's "internal queries").
        f'createUser nethaInternal SHA "{s.v3_auth}"',
        "rouser nethaInternal noauth",
        "iquerySecName nethaInternal",
        f"notificationEvent nethaLinkUp .1.3.6.1.6.3.1.1.5.4 {IF_NOTIFY_OBJECTS}",
        f"notificationEvent nethaLinkDown .1.3.6.1.6.3.1.1.5.3 {IF_NOTIFY_OBJECTS}",
        'monitor -r 1 -S -e nethaLinkUp "linkUp" .1.3.6.1.2.1.2.2.1.8 != 2',
        'monitor -r 1 -S -e nethaLinkDown "linkDown" .1.3.6.1.2.1.2.2.1.8 == 2',
    ]
    return "\n".join(lines) + "\n"


def keepalived_traps(conf: str) -> str:
    """keepalived.conf with ``enable_traps`` in its global_defs: VRRPv3 notifications (vrrpv3NewMaster,
    vrrpv3ProtoError; RFC 6527 with ``enable_snmp_rfcv3``) go through AgentX to snmpd's sinks."""
    if re.search(r"^\s*enable_traps\b", conf, flags=re.M):
        return conf
    return re.sub(r"^(\s*global_defs\s*\{[^\n]*\n)", r"\g<1>    enable_traps\n", conf, count=1, flags=re.M)


class NodeDaemons:
    """The daemons of one node of lab LAB; every pid file lives under ``<lab's run dir>/<node>``."""

    def __init__(self, node: Node, lab: LabNames | None = None, notify: Sequence[str] = ()):
        """``notify``: the controllers' management addresses, where snmpd sends its notifications."""
        self.node = node
        self.lab = lab or lab_names()
        self.notify = tuple(notify)
        self.dir = self.lab.run_dir / node.name
        self.pathspace = self.lab.pathspace(node.name)  # FRR's -N
        self.frr_dir = self.lab.frr_dir(node.name)
        self.frr_sock = self.lab.frr_sock(node.name)

    def _in_ns(self, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return in_ns(self.node.name, *argv, env=env, lab=self.lab)

    # -- which daemons -----------------------------------------------------------------------------
    @property
    def pidfiles(self) -> dict[str, Path]:
        files: dict[str, Path] = {}
        if "/etc/frr/frr.conf" in self.node.binds:
            files.update({d: self.dir / "frr" / f"{d}.pid" for d in FRR_DAEMONS})
        if "/etc/ssh/sshd_config" in self.node.binds:
            files["sshd"] = self.dir / "sshd.pid"
        if "/etc/snmp/snmpd.conf" in self.node.binds:
            files["snmpd"] = self.dir / "snmpd.pid"
        if "/etc/keepalived/keepalived.conf" in self.node.binds:
            files["keepalived"] = self.dir / "keepalived.pid"
        if self.node.role == "etcd":
            files["etcd"] = self.dir / "etcd.pid"
        return files

    def alive(self) -> dict[str, int | None]:
        return {d: pid_alive(p) for d, p in self.pidfiles.items()}

    # -- start -------------------------------------------------------------------------------------
    def start(self, secrets: Secrets) -> str | None:
        """Start every daemon; returns the node's SSH host public key line (or None without sshd)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o711)  # daemons that drop privileges (FRR) reach their own subfolder
        if "/etc/frr/frr.conf" in self.node.binds:
            self.start_frr()
        hostkey = None
        if "/etc/ssh/sshd_config" in self.node.binds:
            hostkey = self.start_sshd()
        if "/etc/snmp/snmpd.conf" in self.node.binds:
            self.start_snmpd(secrets)
        if "/etc/keepalived/keepalived.conf" in self.node.binds:
            self.start_keepalived()
        if self.node.role == "etcd":
            self.start_etcd()
        return hostkey

    def start_frr(self, config: Path | None = None) -> None:
        name = self.node.name
        for d in (self.frr_dir, self.frr_sock, self.dir / "frr"):
            d.mkdir(parents=True, exist_ok=True)
        (self.frr_dir / MARKER).write_text(f"made by netha lab up\nlab: {self.lab.name}\n")
        if config is not None or not (self.frr_dir / "frr.conf").exists():
            shutil.copyfile(config or self.node.binds["/etc/frr/frr.conf"], self.frr_dir / "frr.conf")
        (self.frr_dir / "vtysh.conf").write_text("")
        run("chown", "-R", "frr:frr", str(self.frr_dir), str(self.frr_sock), str(self.dir / "frr"))
        run("chgrp", "frrvty", str(self.frr_dir / "vtysh.conf"), str(self.frr_sock))
        os.chmod(self.frr_dir / "vtysh.conf", 0o640)
        os.chmod(self.frr_sock, 0o775)
        for d in FRR_DAEMONS:
            pidfile = self.dir / "frr" / f"{d}.pid"
            if pid_alive(pidfile):
                continue
            self._in_ns(str(FRR_BIN / d), "-d", "-N", self.pathspace, "-f", str(self.frr_dir / "frr.conf"),
                  "-i", str(pidfile), "--log", f"file:{self.dir / 'frr' / 'frr.log'}")
            if d == "zebra":
                _wait(lambda: (self.frr_sock / "zserv.api").exists(), 5, f"{name}: zebra socket")

    def start_sshd(self) -> str:
        Path("/run/sshd").mkdir(exist_ok=True, mode=0o755)
        key = self.dir / "ssh_host_ed25519_key"
        if not key.exists():
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.node.name}.netha-lab", "-f", str(key))
        pidfile = self.dir / "sshd.pid"
        # The lab's file names the default lab's user and pathspace (vtysh -N r1): this lab's copy names its own.
        conf = self.dir / "sshd_config"
        conf.write_text(self.lab.localise(self.node.binds["/etc/ssh/sshd_config"].read_text(), self.node.name))
        os.chmod(conf, 0o600)
        # Logins get a home of the lab's own: a root login would otherwise run the machine's
        # ~/.bashrc (bash reads it for sshd's commands), whatever it does (pyenv init: a rehash that
        # waits up to 60 s on a lock another login left behind, and hangs every root command).
        home = self.dir / "home"
        home.mkdir(exist_ok=True, mode=0o700)
        if not pid_alive(pidfile):
            self._in_ns("/usr/sbin/sshd", "-f", str(conf),
                  "-o", f"PidFile={pidfile}", "-o", f"HostKey={key}", "-o", f"SetEnv=HOME={home}",
                  # Key logins (root on the Linux routers): the lab's own key, never a user's.
                  "-o", f"AuthorizedKeysFile={self.dir.parent / 'secrets' / 'authorized_keys'}")
            _wait(lambda: pid_alive(pidfile) is not None, 5, f"{self.node.name}: sshd")
        pub = (key.with_suffix(".pub")).read_text().split()
        return f"{pub[0]} {pub[1]}"

    def start_snmpd(self, s: Secrets) -> None:
        conf = self.dir / "snmpd.conf"
        persist = self.dir / "snmp"
        persist.mkdir(exist_ok=True, mode=0o700)
        base = self.lab.localise(self.node.binds["/etc/snmp/snmpd.conf"].read_text(), self.node.name)
        conf.write_text(
            base
            + f"\nrocommunity {s.community} 198.18.0.0/15\n"
            + f'createUser {s.v3_user} SHA "{s.v3_auth}" AES "{s.v3_priv}"\n'
            + f"rouser {s.v3_user} priv\n"
            + snmpd_notifications(self.notify, s)
        )
        os.chmod(conf, 0o600)
        pidfile = self.dir / "snmpd.pid"
        if not pid_alive(pidfile):
            env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": "/nonexistent"}
            self._in_ns("/usr/sbin/snmpd", "-C", "-c", str(conf), "-p", str(pidfile),
                  "-Lf", str(self.dir / "snmpd.log"), env=env)
            _wait(lambda: pid_alive(pidfile) is not None, 5, f"{self.node.name}: snmpd")

    def start_keepalived(self) -> None:
        pidfile = self.dir / "keepalived.pid"
        if pid_alive(pidfile):
            return
        conf = self.dir / "keepalived.conf"
        if not conf.exists():  # netha edits this copy; a restart keeps its edits
            text = self.lab.localise(self.node.binds["/etc/keepalived/keepalived.conf"].read_text(), self.node.name)
            conf.write_text(keepalived_traps(text) if self.notify else text)
        snmp = ["-x"] if "/etc/snmp/snmpd.conf" in self.node.binds else []  # AgentX to this node's snmpd
        # TMPDIR: keepalived writes its state dumps there; one folder per node, as pid files.
        self._in_ns("/usr/sbin/keepalived", "--vrrp", "-f", str(conf), "-p", str(pidfile),
              "-r", str(self.dir / "keepalived-vrrp.pid"), "-c", str(self.dir / "keepalived-checkers.pid"),
              "-l", "-D", "-i", self.node.name, *snmp, env={**os.environ, "TMPDIR": str(self.dir)})
        _wait(lambda: pid_alive(pidfile) is not None, 5, f"{self.node.name}: keepalived")

    def start_etcd(self) -> None:
        """One member of the lab's etcd cluster (Debian's etcd-server), its data under the node's run
        folder; started again after a stop, it rejoins with its data (the cluster flags are then ignored)."""
        pidfile = self.dir / "etcd.pid"
        if pid_alive(pidfile):
            return
        if not Path(ETCD_BIN).exists():
            raise LabError(f"{self.node.name}: {ETCD_BIN} is missing (apt-get install etcd-server; scripts/install.sh)")
        me = str(self.node.mgmt_ipv4)
        cluster = ",".join(f"{n}=http://{ip}:2380" for n, ip in self.node.cluster)
        log = open(self.dir / "etcd.log", "ab")
        try:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.lab.netns(self.node.name), ETCD_BIN, "--name", self.node.name,
                 "--data-dir", str(self.dir / "etcd-data"),
                 "--listen-client-urls", f"http://{me}:2379,http://127.0.0.1:2379", "--advertise-client-urls", f"http://{me}:2379",
                 "--listen-peer-urls", f"http://{me}:2380", "--initial-advertise-peer-urls", f"http://{me}:2380",
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", f"netha-lab-{self.lab.name}",
                 "--heartbeat-interval", "100", "--election-timeout", "1000", "--logger", "zap"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        pidfile.write_text(f"{proc.pid}\n")  # `ip netns exec` execs etcd: the same process
        _wait(lambda: f"{me}:2379" in self._in_ns("ss", "-Hltn").stdout, 10, f"{self.node.name}: etcd")

    def etcd_healthy(self) -> bool:
        """This member answers and the cluster has a quorum (a linearizable read goes through)."""
        r = in_ns(self.node.name, "etcdctl", "--endpoints", f"http://{self.node.mgmt_ipv4}:2379",
                  "--command-timeout=2s", "endpoint", "health", check=False, lab=self.lab,
                  env={**os.environ, "ETCDCTL_API": "3"})
        return r.returncode == 0

    # -- stop --------------------------------------------------------------------------------------
    def stop(self, daemons: tuple[str, ...] | None = None, sig: int = signal.SIGTERM) -> None:
        targets = {d: p for d, p in self.pidfiles.items() if daemons is None or d in daemons}
        pids = [pid for p in targets.values() if (pid := pid_alive(p))]
        _kill(pids, sig)
        for p in targets.values():
            p.unlink(missing_ok=True)

    def remove_files(self) -> None:
        for d in (self.frr_dir, self.frr_sock):
            if d.exists() and (d == self.frr_sock or (d / MARKER).exists()):
                shutil.rmtree(d, ignore_errors=True)


def _kill(pids: list[int], sig: int = signal.SIGTERM, grace: float = 3.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_exists(p) for p in pids):
        time.sleep(0.02)
    for pid in pids:
        if _exists(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists"; treat it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def kill_pids(pids: list[int], grace: float = 3.0) -> None:
    _kill(pids, signal.SIGTERM, grace)


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise LabError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.02)
