"""Long-running commands over the system's OpenSSH client: one multiplexed connection per device.

A streaming prober prints a line every 20 ms; read with paramiko, each line is an SSH packet that a
Python thread decrypts, authenticates and hands to another thread: ~350 us of a core per line, most
of an idle controller's CPU with a handful of probers. The OpenSSH client does that work in C. Here
one ``ssh -M`` master process per device holds the connection (one login), and each command runs
in an ``ssh -S`` client of that master (no new login) whose output netha reads from a pipe.

Used for key-based logins when an ``ssh`` binary is installed (:func:`exec_session`); a password
login, or a host without ``ssh``, uses paramiko (:class:`~netha.transport.ssh.ExecSession`), as
``NETHA_EXEC_SSH=paramiko`` forces. Host keys are checked as for every other session: the
inventory's known_hosts, strict unless it says otherwise; BatchMode: never a prompt.

A command gets a terminal (``-tt``), so its output is line-buffered on the device and it gets
SIGHUP when its channel closes: nothing is left running on the device.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time

from ..errors import ConnectionFailed
from .ssh import ExecSession, SshParams

log = logging.getLogger(__name__)

# Environment switch: "paramiko" forces the Python client for long-running commands, "openssh"
# insists on the system client (an error where it cannot be used); unset: OpenSSH where it can be.
EXEC_SSH_ENV = "NETHA_EXEC_SSH"
_HOST_KEY_FAILED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED",
                    "No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known",
                    "host key for", "Host key for")


def openssh_binary() -> str | None:
    return shutil.which("ssh")


def _spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """Start an ssh process that ends with netha: ``setpriv --pdeathsig`` sends it SIGTERM when the
    thread that started it ends (a daemon killed with SIGKILL leaves no connection behind)."""
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
    return subprocess.Popen([*prefix, *cmd], start_new_session=True, **kwargs)


def exec_session(params: SshParams):
    """The session for ``params``'s long-running commands: OpenSSH for a key login where the system
    has ``ssh``, paramiko otherwise (or as ``NETHA_EXEC_SSH`` says)."""
    want = os.environ.get(EXEC_SSH_ENV, "").strip().lower()
    if want == "paramiko":
        return ExecSession(params)
    usable = params.key_file is not None and not params.password and openssh_binary() is not None
    if want == "openssh" and not usable:
        raise ConnectionFailed(params.device, f"{EXEC_SSH_ENV}=openssh, but the login is not a key without a "
                                              "password, or no `ssh` binary is installed")
    return OpenSshSession(params) if usable else ExecSession(params)


def _end(proc: subprocess.Popen, wait: float) -> None:
    """SIGTERM, then SIGKILL after ``wait`` seconds; a process already gone is left alone."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except OSError:
        pass


class PipeChannel:
    """One command's output, read like a paramiko channel (``fileno``, ``recv``, exit status, ``close``)."""

    def __init__(self, proc: subprocess.Popen):
        self._proc = proc
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()

    def fileno(self) -> int:
        return self._fd

    def recv(self, size: int) -> bytes:
        try:
            return os.read(self._fd, size)
        except OSError:
            return b""

    def exit_status_ready(self) -> bool:
        return self._proc.poll() is not None

    def recv_exit_status(self) -> int:
        return self._proc.wait()

    def close(self) -> None:
        _end(self._proc, wait=2.0)
        if self._proc.stdout is not None:
            self._proc.stdout.close()


class OpenSshSession:
    """One OpenSSH master connection to a device and its commands (the interface of
    :class:`~netha.transport.ssh.ExecSession`)."""

    def __init__(self, params: SshParams):
        self.params = params
        self._dir: str | None = None
        self._master: subprocess.Popen | None = None
        self._binary = openssh_binary() or "ssh"

    # -- the command lines ---------------------------------------------------------------------------
    @property
    def _socket(self) -> str:
        assert self._dir is not None
        return os.path.join(self._dir, "ctl")

    def _options(self) -> list[str]:
        p = self.params
        opts = ["-F", "none", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, round(p.timeout))}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no"]
        if p.known_hosts is not None:
            opts += ["-o", f"UserKnownHostsFile={p.known_hosts}"]
        elif not p.strict_host_key_checking:
            opts += ["-o", "UserKnownHostsFile=/dev/null"]
        opts += ["-o", f"StrictHostKeyChecking={'yes' if p.strict_host_key_checking else 'no'}"]
        if p.key_file is not None:
            opts += ["-o", "IdentitiesOnly=yes", "-i", str(p.key_file)]
        opts += ["-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
                 "-p", str(p.port), "-l", p.username]
        return opts

    # -- the session ---------------------------------------------------------------------------------
    def open(self) -> None:
        p = self.params
        self._dir = tempfile.mkdtemp(prefix="netha-ssh-")  # 0700: the control socket is nobody else's
        cmd = [self._binary, *self._options(), "-M", "-S", self._socket, "-o", "ControlPersist=no", "-N", p.host]
        self._master = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + p.timeout + 1.0
        while not os.path.exists(self._socket):
            if self._master.poll() is not None or time.monotonic() > deadline:
                error = self._master_error()
                self.close()
                raise ConnectionFailed(p.device, error)
            time.sleep(0.01)

    def _master_error(self) -> str:
        p, master = self.params, self._master
        text = ""
        if master is not None:
            if master.poll() is None:
                return f"SSH to {p.host}:{p.port} failed: no connection within {p.timeout:g}s"
            try:
                text = master.stderr.read().decode(errors="replace") if master.stderr is not None else ""
            except OSError:
                text = ""
        line = " ".join(text.split())[:200]
        if any(k in text for k in _HOST_KEY_FAILED):
            where = f" in {p.known_hosts}" if p.known_hosts is not None else ""
            return f"host key of {p.host}:{p.port} not verified{where} (unknown or changed): {line}"
        if "Permission denied" in text:
            return f"authentication failed for user {p.username}"
        return f"SSH to {p.host}:{p.port} failed: {line or 'the ssh client exited'}"

    @property
    def is_open(self) -> bool:
        return self._master is not None and self._master.poll() is None and self._dir is not None \
            and os.path.exists(self._socket)

    def start(self, command: str) -> PipeChannel:
        """Run ``command`` on a new channel of the master connection; its output (stderr merged) on a pipe."""
        if not self.is_open:
            raise ConnectionFailed(self.params.device, "SSH connection lost")
        cmd = [self._binary, "-F", "none", "-S", self._socket, "-o", "ControlMaster=no", "-o", "BatchMode=yes",
               "-o", "LogLevel=ERROR", "-tt", "-p", str(self.params.port), "-l", self.params.username,
               self.params.host, "--", command]
        try:
            proc = _spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ConnectionFailed(self.params.device, f"cannot start a command: {exc}") from None
        return PipeChannel(proc)

    def close(self) -> None:
        master, self._master = self._master, None
        if master is not None:
            _end(master, wait=3.0)  # the master ends its channels: their commands get SIGHUP
        if master is not None and master.stderr is not None:
            master.stderr.close()
        d, self._dir = self._dir, None
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)

    def __del__(self) -> None:
        if getattr(self, "_master", None) is not None:
            self.close()


__all__ = ["EXEC_SSH_ENV", "OpenSshSession", "PipeChannel", "exec_session", "openssh_binary"]
