"""SSH transport and channel: netmiko opens and authenticates the session; this layer runs commands.

netmiko's ``send_command`` is tuned for slow devices (it waits for the command echo and sleeps
between reads). A poller and a push need less: write the command, then wait on the SSH channel
itself (``select``, no fixed sleeps) and read until the prompt comes back at the end of the
output. Several commands can be pipelined in one write and split on the prompts
(:meth:`SshChannel.run_many`).

Host keys: netmiko reports paramiko's ``BadHostKeyException`` (and an unknown host under strict
checking) as a generic timeout; :func:`host_key_failure` finds it in the exception chain so that a
changed host key is reported as what it is, and never retried into a connection.
"""

from __future__ import annotations

import codecs
import logging
import re
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConnectionFailed, DeviceError
from ..log import register_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SshParams:
    """How to reach one device. Secrets are resolved by the caller and never logged."""

    device: str
    host: str
    username: str
    password: str | None = None
    key_file: Path | None = None
    port: int = 22
    known_hosts: Path | None = None
    strict_host_key_checking: bool = True
    timeout: float = 10.0
    command_timeout: float = 10.0
    # netmiko's class for the device's CLI: always the platform's (its driver spec's); no default.
    netmiko_device_type: str = field(kw_only=True)


# paramiko's transport thread wakes every 0.1 s (its socket timeout) to look for a close or a due
# keepalive: 10 wake-ups a second per connection, most of an idle controller's SSH cost. Once the
# session is up, it wakes this often instead (data still arrives at once; a close is immediate).
TRANSPORT_IDLE_CHECK = 1.0


def quiet_transport(transport: object) -> None:
    """Let ``transport``'s thread sleep longer between its idle checks (see TRANSPORT_IDLE_CHECK)."""
    sock = getattr(transport, "sock", None)
    try:
        if sock is not None:
            sock.settimeout(TRANSPORT_IDLE_CHECK)
    except OSError:  # a socket closed meanwhile: nothing to tune
        pass


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or while handling (netmiko wraps paramiko's)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 16:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _fingerprint(key: object) -> str:
    """``ssh-ed25519 SHA256:...`` for a paramiko key, as ``ssh-keygen -l`` shows it (public, not secret)."""
    try:
        name = key.get_name()  # type: ignore[attr-defined]
        fp = getattr(key, "fingerprint", None)
        if not fp:
            import base64
            import hashlib

            digest = hashlib.sha256(key.asbytes()).digest()  # type: ignore[attr-defined]
            fp = "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
        return f"{name} {fp}"
    except Exception:  # noqa: BLE001 - a fingerprint is a courtesy, never a reason to fail differently
        return "a different key"


def host_key_failure(exc: BaseException, params: SshParams) -> ConnectionFailed | None:
    """A ConnectionFailed that says 'host key mismatch' or 'unknown host key', or None if ``exc`` is neither."""
    from paramiko.ssh_exception import BadHostKeyException, SSHException

    addr = params.host if params.port == 22 else f"[{params.host}]:{params.port}"
    known = str(params.known_hosts) if params.known_hosts else "known_hosts (none configured)"
    for e in _chain(exc):
        if isinstance(e, BadHostKeyException):
            return ConnectionFailed(params.device, (
                f"host key mismatch for {addr}: the key in {known} differs from the one the device offers "
                f"({_fingerprint(e.key)}; possible man-in-the-middle or a replaced device); netha will not connect. "
                f"If the device was replaced, check its new key and update {known}"
            ))
        if isinstance(e, SSHException) and "not found in known_hosts" in str(e):
            return _unknown_host(params, addr, known)
    text = " ".join(str(exc).split())
    if "does not match" in text and "Host key" in text:
        return ConnectionFailed(params.device, (
            f"host key mismatch for {addr}: the key in {known} differs from the one the device offers "
            f"(possible man-in-the-middle or a replaced device); netha will not connect"
        ))
    if "not found in known_hosts" in text:
        return _unknown_host(params, addr, known)
    return None


def _unknown_host(params: SshParams, addr: str, known: str) -> ConnectionFailed:
    if params.known_hosts is None:
        why = "no known_hosts file is configured (ssh.known_hosts in the inventory)"
    elif not params.known_hosts.is_file():
        why = f"{known} does not exist"
    else:
        why = f"{known} has no key for it"
    return ConnectionFailed(params.device, (
        f"unknown host key for {addr}: {why}, and strict host key checking is on; netha will not connect"
    ))


class SshChannel:
    """A persistent interactive session to one device's CLI."""

    READ_DELAY = 0.002

    def __init__(self, params: SshParams, prompt_pattern: str):
        self.params = params
        self._prompt_re = re.compile(prompt_pattern, re.M)
        self._conn = None  # netmiko BaseConnection
        self.prompt: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    # -- session ---------------------------------------------------------------------------
    def open(self) -> None:
        from netmiko import ConnectHandler
        from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
        from paramiko.ssh_exception import SSHException

        p = self.params
        if p.password:
            register_secret(p.password)
        kwargs = dict(
            device_type=p.netmiko_device_type,
            host=p.host,
            port=p.port,
            username=p.username,
            password=p.password or "",
            use_keys=p.key_file is not None,
            key_file=str(p.key_file) if p.key_file else None,
            allow_agent=False,
            conn_timeout=p.timeout,
            auth_timeout=p.timeout,
            banner_timeout=p.timeout,
            fast_cli=True,
            ssh_strict=p.strict_host_key_checking,
            system_host_keys=False,
            alt_host_keys=p.known_hosts is not None,
            alt_key_file=str(p.known_hosts) if p.known_hosts else "",
        )
        try:
            self._conn = ConnectHandler(**kwargs)
        except NetmikoAuthenticationException as exc:
            raise host_key_failure(exc, p) or ConnectionFailed(
                p.device, f"authentication failed for user {p.username}") from None
        except NetmikoTimeoutException as exc:
            # netmiko turns every paramiko SSHException, a changed host key included, into a "timeout".
            raise host_key_failure(exc, p) or ConnectionFailed(p.device, f"SSH to {p.host}:{p.port} timed out") from None
        except SSHException as exc:
            text = " ".join(str(exc).split())
            raise host_key_failure(exc, p) or ConnectionFailed(
                p.device, f"SSH error: {text[:200] if text else type(exc).__name__}") from None
        except (OSError, EOFError, ValueError) as exc:
            raise host_key_failure(exc, p) or ConnectionFailed(p.device, f"SSH to {p.host}:{p.port} failed: {exc}") from None
        self.prompt = self._conn.base_prompt
        self._decoder.reset()
        if self._conn.remote_conn is not None:
            quiet_transport(self._conn.remote_conn.get_transport())
        self._settle()
        log.debug("%s: SSH session open (prompt %s)", p.device, self.prompt)

    def _settle(self, quiet: float = 0.05) -> None:
        """Leave the channel at a fresh prompt with nothing pending.

        Session preparation may leave late output behind (FRR's vtysh answers netmiko's
        `terminal width 511` with `% Unknown command`): read as the reply to the first command of the
        session, it made a good `configure terminal` look rejected. An empty line is sent and every
        output is read until the channel ends at a prompt and stays quiet."""
        conn = self._raw()
        try:
            conn.write_channel("\n")
            deadline = time.monotonic() + self.params.command_timeout
            buf, last = "", time.monotonic()
            while time.monotonic() < deadline:
                chunk = conn.read_channel()
                if chunk:
                    buf, last = buf + chunk, time.monotonic()
                elif "\n" in buf and self._at_any_prompt(buf) and time.monotonic() - last >= quiet:
                    return
                time.sleep(self.READ_DELAY)
        except (OSError, EOFError) as exc:
            self.close()
            raise ConnectionFailed(self.params.device, f"session lost while opening: {exc or type(exc).__name__}") from None
        self.close()
        raise ConnectionFailed(self.params.device, f"no prompt after opening the session ({self.params.command_timeout:.1f}s)")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001 - closing a dead session must never raise
                pass

    @property
    def is_open(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        transport = conn.remote_conn.get_transport() if conn.remote_conn is not None else None
        return bool(transport and transport.is_active())

    # -- channel ---------------------------------------------------------------------------
    def _raw(self):
        if self._conn is None:
            raise ConnectionFailed(self.params.device, "no SSH session")
        return self._conn

    def run(self, command: str, timeout: float | None = None) -> str:
        """Run one command; return its output without the echo and the trailing prompt."""
        if "\n" in command or "\r" in command:
            raise DeviceError(self.params.device, "refusing to send a command containing a newline")
        return self.run_many([command], timeout)[0]

    def run_many(self, commands: list[str], timeout: float | None = None) -> list[str]:
        """Run ``commands`` pipelined in one write; their outputs, in order (each without its echo
        and prompt). Every command runs, whatever the ones before it printed: pipeline only
        commands whose outcome does not depend on the ones before (a caller checks each output)."""
        for command in commands:
            if "\n" in command or "\r" in command:
                raise DeviceError(self.params.device, "refusing to send a command containing a newline")
        conn = self._raw()
        timeout = timeout or self.params.command_timeout
        try:
            self._drain(conn)  # drop anything unsolicited
            conn.write_channel("".join(c + "\n" for c in commands))
            bufs = [self._read_until_prompt(conn, timeout, inner=i < len(commands) - 1) for i in range(len(commands))]
        except (OSError, EOFError) as exc:
            self.close()
            raise ConnectionFailed(self.params.device, f"session lost: {exc or type(exc).__name__}") from None
        except DeviceError:
            self.close()
            raise
        return [self._output(command, buf) for command, buf in zip(commands, bufs)]

    @staticmethod
    def _output(command: str, buf: str) -> str:
        lines = buf.replace("\r\n", "\n").replace("\r", "").split("\n")
        # First line: the echoed command (after the prompt); last line: the new prompt.
        if lines and lines[0].rstrip().endswith(command.strip()):
            lines = lines[1:]
        return "\n".join(lines[:-1]).strip("\n")

    def _drain(self, conn) -> None:
        """Discard what is waiting: netmiko's own buffer, and the channel's."""
        conn.read_channel()
        self._pending = ""
        self._recv(conn)
        self._pending = ""

    _pending = ""  # read past the last prompt (the next pipelined command's output)

    def _recv(self, conn) -> str:
        """What the channel holds now, decoded, without waiting (straight from paramiko: netmiko's
        read_channel sleeps 10 ms when a chunk ends between a CR and its LF)."""
        chan = conn.remote_conn
        data = []
        while chan is not None and chan.recv_ready():
            chunk = chan.recv(65536)
            if not chunk:
                break
            data.append(chunk)
        if not data:
            return ""
        text = self._decoder.decode(b"".join(data))
        if getattr(conn, "ansi_escape_codes", False):  # as netmiko's read_channel does for such platforms
            text = conn.strip_ansi_escape_codes(text)
        return text

    def _read_until_prompt(self, conn, timeout: float, inner: bool = False) -> str:
        """Everything up to and including the next prompt. The last (or only) command's prompt ends
        the output; an ``inner`` command's (more pipelined commands follow) may be followed on its
        line by the next command's echo, which stays pending."""
        deadline = time.monotonic() + timeout
        buf, self._pending = self._pending, ""
        chan = conn.remote_conn
        while True:
            if "\n" in buf:
                cut = self._prompt_end(buf) if inner else (len(buf) if self._ends_with_prompt(buf) else None)
                if cut is not None:
                    buf, self._pending = buf[:cut], buf[cut:]
                    return buf
            chunk = self._recv(conn)
            if chunk:
                buf += chunk
                continue
            if chan is None or chan.closed or chan.eof_received:
                raise ConnectionFailed(self.params.device, "session closed by the device")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionFailed(self.params.device, f"no prompt after {timeout:.1f}s (device hung?)")
            try:
                select.select([chan], [], [], min(left, 1.0))  # woken by the channel's data, no fixed sleep
            except (OSError, ValueError, TypeError):
                time.sleep(self.READ_DELAY)

    def _prompt_end(self, text: str) -> int | None:
        """Where the first prompt after the first line break of ``text`` ends: a line that starts with
        a prompt (the next pipelined command's echo may follow it on that line), or None."""
        pos = text.find("\n")
        while pos >= 0:
            nxt = text.find("\n", pos + 1)
            line = text[pos + 1:nxt if nxt >= 0 else len(text)]
            lead = len(line) - len(line.lstrip("\r"))
            m = self._prompt_re.match(line, lead)
            if m is not None and m.end() > lead:
                return pos + 1 + m.end()
            pos = nxt
        return None

    def _at_any_prompt(self, text: str) -> bool:
        """At the platform's prompt, or at the one netmiko found (a driver may set its own later)."""
        last = text.replace("\r", "").rsplit("\n", 1)[-1].rstrip()
        return self._ends_with_prompt(text) or (bool(self.prompt) and last.startswith(self.prompt)
                                                and last[-1:] in ("#", ">", "$"))

    def _ends_with_prompt(self, text: str) -> bool:
        last = text.replace("\r", "").rsplit("\n", 1)[-1]
        return bool(self._prompt_re.fullmatch(last.rstrip()))


class ExecSession:
    """One SSH connection for long-running commands (paramiko), each on its own exec channel with a
    terminal (line-buffered output, SIGHUP when the channel closes) and no prompt: a streaming
    prober's lines arrive as the device prints them. Key logins use the system's OpenSSH client
    instead where it is installed (:mod:`netha.transport.openssh`). Host keys are checked
    exactly as for the CLI session (the inventory's known_hosts, strict unless it says otherwise)."""

    def __init__(self, params: SshParams):
        self.params = params
        self._client = None  # paramiko.SSHClient

    def open(self) -> None:
        import paramiko

        p = self.params
        if p.password:
            register_secret(p.password)
        client = paramiko.SSHClient()
        if p.known_hosts is not None and p.known_hosts.is_file():
            client.load_host_keys(str(p.known_hosts))
        client.set_missing_host_key_policy(
            paramiko.RejectPolicy() if p.strict_host_key_checking else paramiko.AutoAddPolicy())
        try:
            client.connect(
                p.host, port=p.port, username=p.username, password=p.password or None,
                key_filename=str(p.key_file) if p.key_file else None, look_for_keys=False, allow_agent=False,
                timeout=p.timeout, auth_timeout=p.timeout, banner_timeout=p.timeout,
            )
        except paramiko.AuthenticationException:
            client.close()
            raise ConnectionFailed(p.device, f"authentication failed for user {p.username}") from None
        except (paramiko.SSHException, OSError, EOFError, ValueError) as exc:
            client.close()
            text = " ".join(str(exc).split())
            raise host_key_failure(exc, p) or ConnectionFailed(
                p.device, f"SSH to {p.host}:{p.port} failed: {text[:200] or type(exc).__name__}") from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(5)
            quiet_transport(transport)
        self._client = client

    @property
    def is_open(self) -> bool:
        t = self._client.get_transport() if self._client is not None else None
        return bool(t and t.is_active())

    def start(self, command: str):
        """Run ``command`` on a new exec channel; returns the paramiko Channel (stderr merged)."""
        if self._client is None:
            raise ConnectionFailed(self.params.device, "exec session is not open")
        try:
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                raise ConnectionFailed(self.params.device, "SSH connection lost")
            chan = transport.open_session(timeout=self.params.timeout)
            chan.set_combine_stderr(True)
            # A terminal: the command's output is line-buffered (ping to a pipe would buffer 4 KiB),
            # and it gets SIGHUP when the channel closes, so nothing is left running on the device.
            chan.get_pty(term="dumb", width=200, height=24)
            chan.exec_command(command)
        except ConnectionFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - paramiko raises many kinds here
            raise ConnectionFailed(self.params.device, f"cannot start a command: {type(exc).__name__}: {exc}") from None
        return chan

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass


class ExecPool:
    """One shell SSH connection per device, shared by every long-running command on it (the
    streaming probers of :mod:`netha.observe.reach` and the event streams of
    :mod:`netha.observe.events`): each user holds a lease with the interface of an
    :class:`ExecSession`, and runs its commands on their own exec channels of the one connection.

    A lease that closes closes its own channels only; the connection closes with its last lease.
    A connection found dead is dropped, and the next lease logs in again (one login, whoever
    asks first).
    """

    def __init__(self, factory: Callable[[SshParams], ExecSession] | None = None):
        if factory is None:
            from .openssh import exec_session  # the system's OpenSSH client for key logins, else paramiko

            factory = exec_session
        self._factory = factory
        self._lock = threading.Lock()
        self._conns: dict[tuple, ExecSession] = {}
        self._users: dict[tuple, int] = {}
        self._opening: dict[tuple, threading.Lock] = {}
        self.logins = 0  # connections opened in all (a figure for tests and status)

    @staticmethod
    def _key(params: SshParams) -> tuple:
        return (params.device, params.host, params.port, params.username)

    def lease(self, params: SshParams) -> ExecLease:
        """A lease on ``params``'s connection (not open until :meth:`ExecLease.open`)."""
        return ExecLease(self, params)

    def _acquire(self, params: SshParams) -> ExecSession:
        key = self._key(params)
        with self._lock:
            gate = self._opening.setdefault(key, threading.Lock())
        with gate:  # one login per device at a time; other devices do not wait
            with self._lock:
                conn = self._conns.get(key)
                if conn is not None and conn.is_open:
                    self._users[key] = self._users.get(key, 0) + 1
                    return conn
                stale = self._conns.pop(key, None)
            if stale is not None:
                stale.close()
            conn = self._factory(params)
            conn.open()
            with self._lock:
                self._conns[key] = conn
                self._users[key] = self._users.get(key, 0) + 1
                self.logins += 1
            return conn

    def _release(self, params: SshParams, conn: ExecSession) -> None:
        key = self._key(params)
        close = False
        with self._lock:
            if self._conns.get(key) is conn:
                self._users[key] = max(0, self._users.get(key, 0) - 1)
                if self._users[key] == 0 or not conn.is_open:
                    self._conns.pop(key, None)
                    close = self._users[key] == 0
                    if not conn.is_open:
                        close = True
            else:
                close = not conn.is_open  # a connection already replaced: the last one out closes it
        if close:
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._conns, self._users = list(self._conns.values()), {}, {}
        for conn in conns:
            conn.close()


class ExecLease:
    """One user's share of a pooled connection (:class:`ExecPool`): open, start commands, close."""

    def __init__(self, pool: ExecPool, params: SshParams):
        self.params = params
        self._pool = pool
        self._conn: ExecSession | None = None
        self._channels: list = []

    def open(self) -> None:
        if self._conn is None:
            self._conn = self._pool._acquire(self.params)

    @property
    def is_open(self) -> bool:
        return self._conn is not None and self._conn.is_open

    def start(self, command: str):
        if self._conn is None:
            raise ConnectionFailed(self.params.device, "exec session is not open")
        chan = self._conn.start(command)
        self._channels.append(chan)
        return chan

    def close(self) -> None:
        conn, self._conn = self._conn, None
        channels, self._channels = self._channels, []
        for chan in channels:
            try:
                chan.close()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
        if conn is not None:
            self._pool._release(self.params, conn)
