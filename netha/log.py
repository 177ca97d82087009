"""Logging set-up: a filter that redacts secrets (as netmiko's SecretsFilter) and text or JSON output.

:func:`redact` is the one place that knows what a secret looks like: the log handlers, the audit
writer (:mod:`netha.store`) and the CLI's history output all call it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

_REDACTED = "********"

# A value: a double- or single-quoted string (escapes included) or a run of non-blanks.
_VALUE = r"""(?:"(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^\s"']\S*)"""
# Between a keyword and its value: `=`/`:` (JSON and YAML keys may close their quote first), or blanks.
# Never a newline: a keyword at the end of a line does not make the next line a secret.
_SEP = r"""(?:["']?[ \t]*[=:][ \t]*|[ \t]+)"""
# Cisco-style encryption types in front of the value: `password 7 0822455D0A16`, `secret 5 $1$...`,
# `key-string 7 ...`; the digit is kept, the value after it is redacted.
_TYPE = r"""(?:(?:0|4|5|6|7|8|9)[ \t]+)?"""

_KEYWORDS = (
    r"password|passwd|passphrase|secret|community|auth[-_]?pass|auth[-_ ]?key|priv[-_ ]?key"
    r"|authentication-key|authentication-password|privacy-password|key-string|pre-shared-key"
    r"|md5-key|auth[-_]?password|priv[-_]?password"
)

# Patterns that look like secrets in device output, configs or command lines. Each has the groups
# (keep-before, secret); the secret group is replaced.
_PATTERNS = [
    # password X, secret 5 X, "password": "X", auth_pass X (keepalived), authentication-key X, key-string 7 X
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])((?:{_KEYWORDS}){_SEP}{_TYPE})({_VALUE})"),
    # key 7 X (IOS key chains, NTP/TACACS keys): only with an encryption type, `key 1` alone is an index
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])(key[ \t]+(?:0|6|7|8|9)[ \t]+)({_VALUE})"),
    # snmp-server community X, rocommunity X, rwcommunity6 X
    re.compile(rf"(?i)((?:snmp-server community|rocommunity6?|rwcommunity6?)[ \t]+)({_VALUE})"),
    # SNMPv3 users: ... auth sha X priv aes 128 Y (IOS, EOS, NX-OS)
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])(auth[ \t]+(?:md5|sha\d*|sha-\d+)[ \t]+)({_VALUE})"),
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])(priv[ \t]+(?:des|3des|aes\d*)(?:[ \t]+(?:128|192|256))?[ \t]+)({_VALUE})"),
    # net-snmp: createUser NAME SHA "authpass" AES "privpass"
    re.compile(rf"(?i)(createUser[ \t]+\S+[ \t]+(?:MD5|SHA\S*)[ \t]+)({_VALUE})"),
    re.compile(rf"(?i)(createUser[ \t]+\S+[ \t]+(?:MD5|SHA\S*)[ \t]+\S+[ \t]+(?:DES|AES\S*)[ \t]+)({_VALUE})"),
    # IOS VRRP/HSRP plain-text authentication, OSPF message-digest keys
    re.compile(rf"(?i)(?<![A-Za-z0-9_-])(authentication[ \t]+text[ \t]+)({_VALUE})"),
    re.compile(rf"(?i)(message-digest-key[ \t]+\d+[ \t]+md5[ \t]+{_TYPE})({_VALUE})"),
]
# A private key block, whatever its kind (RSA, EC, OPENSSH, ENCRYPTED...), even when cut short.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S
)
# Registered secrets shorter than this are redacted only as whole words (`ab` must not turn every
# "table" into "t********le").
_SHORT = 3


class SecretsFilter(logging.Filter):
    """Redacts every registered secret value, and anything that looks like 'password X', in log records."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._long: tuple[str, ...] = ()
        self._short_re: re.Pattern[str] | None = None

    def add(self, secret: str) -> None:
        if not secret or not isinstance(secret, str):
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            # Longest first, so that a secret containing another is replaced whole.
            self._long = tuple(sorted((s for s in self._secrets if len(s) >= _SHORT), key=len, reverse=True))
            short = sorted((s for s in self._secrets if len(s) < _SHORT), key=len, reverse=True)
            self._short_re = (
                re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, short)) + r")(?![A-Za-z0-9])")
                if short else None
            )

    def redact(self, text: str) -> str:
        if not text:
            return text
        with self._lock:
            long, short_re = self._long, self._short_re
        text = _PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY----- {_REDACTED} "
                                          f"-----END {m.group(1)}PRIVATE KEY-----", text)
        for secret in long:
            if secret in text:
                text = text.replace(secret, _REDACTED)
        if short_re is not None:
            text = short_re.sub(_REDACTED, text)
        for pat in _PATTERNS:
            text = pat.sub(_keep_first, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not make logging raise here
            return True
        red = self.redact(msg)
        if red != msg:
            record.msg, record.args = red, None
        return True


def _keep_first(m: re.Match[str]) -> str:
    value = m.group(2)
    if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
        return f"{m.group(1)}{value[0]}{_REDACTED}{value[0]}"
    return f"{m.group(1)}{_REDACTED}"


SECRETS = SecretsFilter()


def register_secret(value: str) -> str:
    """Remember ``value`` so that it is redacted from every log line; returns it unchanged."""
    SECRETS.add(value)
    return value


def redact(text: str) -> str:
    """``text`` with every registered secret and everything that looks like a secret replaced.

    For logs, audit details and diffs, and anything the CLI prints from the audit log.
    """
    return SECRETS.redact(text)


def redact_data(value: Any) -> Any:
    """:func:`redact` applied to every string in a JSON-like value (dicts, lists, tuples, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


class RedactingFormatter(logging.Formatter):
    """The standard text formatter, with the whole line redacted (message, exception and stack)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key in ("device", "group", "event", "decision"):
            if hasattr(record, key):
                value = getattr(record, key)
                plain = isinstance(value, (str, int, float, bool, dict, list, tuple)) or value is None
                doc[key] = redact_data(value) if plain else redact(str(value))
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exc"] = redact(record.exc_text)
        if record.stack_info:
            doc["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(doc, default=lambda o: redact(str(o)))


def setup_logging(level: str = "warning", fmt: str = "text", stream=None) -> None:
    """Configure the root logger for the CLI. Library code only ever uses module loggers."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(SECRETS)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # paramiko and netmiko log secrets-adjacent detail at DEBUG; keep them quieter unless asked.
    for noisy in ("paramiko", "netmiko"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
        logging.getLogger(noisy).addFilter(SECRETS)
