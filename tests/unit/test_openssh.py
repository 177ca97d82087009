"""Long-running commands over the system's OpenSSH client, against a real sshd on loopback."""

from __future__ import annotations

import getpass
import os
import select
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from netha.errors import ConnectionFailed
from netha.transport.openssh import EXEC_SSH_ENV, OpenSshSession, exec_session
from netha.transport.ssh import ExecPool, ExecSession, SshParams

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
pytestmark = pytest.mark.skipif(SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
                                reason="needs OpenSSH (sshd, ssh, ssh-keygen): scripts/install.sh installs it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else Path(f"{path}.pub").read_text().strip()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    host_pub = _keygen(d / "host")
    client_pub = _keygen(d / "client")
    (d / "authorized_keys").write_text(client_pub + "\n")
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n")
    ktype, key = host_pub.split()[:2]
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {ktype} {key}\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    log = open(d / "sshd.log", "w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((d / "sshd.log").read_text())
            time.sleep(0.05)
    yield d, port
    proc.terminate()
    proc.wait(5)
    log.close()


def params(sshd, **kw) -> SshParams:
    d, port = sshd
    base = dict(device="lo", host="127.0.0.1", port=port, username=getpass.getuser(), key_file=d / "client",
                known_hosts=d / "known_hosts", timeout=5.0, netmiko_device_type="linux")
    base.update(kw)
    return SshParams(**base)


def read_until(chan, needle: bytes, timeout: float = 5.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([chan.fileno()], [], [], 0.2)
        if ready:
            data = chan.recv(4096)
            if not data:
                break
            out += data
    return out


def test_commands_run_on_one_login_and_their_lines_arrive_as_printed(sshd):
    s = OpenSshSession(params(sshd))
    s.open()
    try:
        assert s.is_open
        a = s.start("for i in 1 2 3; do echo line-$i; sleep 0.1; done")
        b = s.start("echo other")
        assert b"line-3" in read_until(a, b"line-3")
        assert b"other" in read_until(b, b"other")
        a.recv_exit_status()
        assert a.exit_status_ready() and a.recv_exit_status() == 0
        a.close(), b.close()
    finally:
        s.close()
    assert not s.is_open
    log = (sshd[0] / "sshd.log").read_text()
    assert log.count("Accepted publickey") >= 1


def test_closing_a_channel_ends_its_command_on_the_device(sshd, tmp_path):
    marker = tmp_path / "running"
    s = OpenSshSession(params(sshd))
    s.open()
    try:
        chan = s.start(f"echo started; while :; do touch {marker}; sleep 0.05; done")
        assert b"started" in read_until(chan, b"started")
        chan.close()
        time.sleep(0.3)
        marker.unlink(missing_ok=True)
        time.sleep(0.3)
        assert not marker.exists(), "the command still runs after its channel closed"
    finally:
        s.close()


def test_an_unknown_host_key_is_a_clear_error_and_no_connection(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    s = OpenSshSession(params(sshd, known_hosts=empty))
    with pytest.raises(ConnectionFailed, match="host key of 127.0.0.1:.* not verified"):
        s.open()
    assert not s.is_open


def test_a_refused_key_says_authentication_failed(sshd, tmp_path):
    other = tmp_path / "other"
    _keygen(other)
    s = OpenSshSession(params(sshd, key_file=other))
    with pytest.raises(ConnectionFailed, match="authentication failed"):
        s.open()


def test_a_dead_master_reads_as_a_lost_connection(sshd):
    s = OpenSshSession(params(sshd))
    s.open()
    try:
        s._master.kill()
        s._master.wait()
        assert not s.is_open
        with pytest.raises(ConnectionFailed, match="lost"):
            s.start("true")
    finally:
        s.close()


def test_the_pool_shares_one_master_between_leases(sshd):
    pool = ExecPool()
    a, b = pool.lease(params(sshd)), pool.lease(params(sshd))
    a.open(), b.open()
    try:
        assert pool.logins == 1 and isinstance(a._conn, OpenSshSession) and a._conn is b._conn
        assert b"x" in read_until(a.start("echo x"), b"x")
    finally:
        a.close(), b.close(), pool.close()


def test_key_logins_use_openssh_and_password_logins_paramiko(sshd, monkeypatch):
    monkeypatch.delenv(EXEC_SSH_ENV, raising=False)
    assert isinstance(exec_session(params(sshd)), OpenSshSession)
    assert isinstance(exec_session(params(sshd, key_file=None, password="pw")), ExecSession)
    monkeypatch.setenv(EXEC_SSH_ENV, "paramiko")
    assert isinstance(exec_session(params(sshd)), ExecSession)
    monkeypatch.setenv(EXEC_SSH_ENV, "openssh")
    with pytest.raises(ConnectionFailed, match="NETHA_EXEC_SSH=openssh"):
        exec_session(params(sshd, key_file=None, password="pw"))
