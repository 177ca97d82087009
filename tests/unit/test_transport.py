"""The SSH transport against a small paramiko SSH server on 127.0.0.1: a changed host key says so.

The server runs in a thread on loopback with a freshly generated host key; it accepts no login.
That is enough: host keys are checked before authentication.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from netha.errors import ConnectionFailed
from netha.transport.ssh import SshChannel, SshParams


class _NoLogin(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_FAILED


class _LoopbackServer:
    """Accepts SSH connections on 127.0.0.1 with ``host_key``, one thread per connection, until stopped."""

    def __init__(self, host_key: paramiko.PKey):
        self.host_key = host_key
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self._thread = threading.Thread(target=self._serve, name="test-sshd", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            t = paramiko.Transport(conn)
            t.add_server_key(self.host_key)
            self._transports.append(t)
            try:
                t.start_server(event=threading.Event(), server=_NoLogin())
            except (paramiko.SSHException, EOFError, OSError):
                t.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        for t in self._transports:
            t.close()


@pytest.fixture
def server_key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


@pytest.fixture
def server(server_key: paramiko.PKey) -> Iterator[_LoopbackServer]:
    srv = _LoopbackServer(server_key)
    yield srv
    srv.stop()


def _known_hosts(path: Path, port: int, key: paramiko.PKey | None) -> Path:
    hk = paramiko.HostKeys()
    if key is not None:
        hk.add(f"[127.0.0.1]:{port}", key.get_name(), key)
    hk.save(str(path))
    return path


def _params(port: int, known_hosts: Path | None, strict: bool = True) -> SshParams:
    return SshParams(device="r1", host="127.0.0.1", port=port, username="netha", password="not-a-real-pw",
                     known_hosts=known_hosts, strict_host_key_checking=strict, timeout=5.0,
                     netmiko_device_type="linux")


def _open_error(params: SshParams) -> str:
    ch = SshChannel(params, r".*[#$>]\s*$")
    with pytest.raises(ConnectionFailed) as info:
        ch.open()
    ch.close()
    assert info.value.device == "r1"
    return str(info.value)


def test_host_key_mismatch_says_so_not_timeout(server, tmp_path):
    other = paramiko.ECDSAKey.generate()
    kh = _known_hosts(tmp_path / "known_hosts", server.port, other)
    msg = _open_error(_params(server.port, kh))
    assert msg.startswith(f"r1: host key mismatch for [127.0.0.1]:{server.port}: the key in {kh} differs"), msg
    assert "man-in-the-middle" in msg and "netha will not connect" in msg
    assert "timed out" not in msg and "\n" not in msg


def test_host_key_mismatch_names_the_offered_key_fingerprint(server, server_key, tmp_path):
    kh = _known_hosts(tmp_path / "known_hosts", server.port, paramiko.ECDSAKey.generate())
    msg = _open_error(_params(server.port, kh))
    assert server_key.fingerprint in msg, msg


def test_unknown_host_under_strict_checking_says_so(server, tmp_path):
    kh = _known_hosts(tmp_path / "known_hosts", server.port, None)
    msg = _open_error(_params(server.port, kh))
    assert msg.startswith(f"r1: unknown host key for [127.0.0.1]:{server.port}: {kh} has no key for it"), msg


def test_missing_known_hosts_file_under_strict_checking_says_so(server, tmp_path):
    msg = _open_error(_params(server.port, tmp_path / "nope"))
    assert "unknown host key" in msg and f"{tmp_path / 'nope'} does not exist" in msg, msg


def test_matching_host_key_gets_past_the_check_to_authentication(server, server_key, tmp_path):
    kh = _known_hosts(tmp_path / "known_hosts", server.port, server_key)
    msg = _open_error(_params(server.port, kh))
    assert "host key" not in msg and "authentication failed for user netha" in msg, msg


def test_a_port_nobody_listens_on_is_not_a_host_key_problem(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    msg = _open_error(_params(port, _known_hosts(tmp_path / "known_hosts", port, None)))
    assert "host key" not in msg, msg
