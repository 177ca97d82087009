"""Logging set-up: a filter that redacts secrets (as netmiko's SecretsFilter) and text or JSON output."""

from __future__ import annotations

import json
import logging
import re
import threading
import time

_REDACTED = "********"
# Patterns that look like secrets in device output or command lines.
_PATTERNS = [
    re.compile(r"(?i)(password|passwd|secret|community|auth[-_ ]?key|priv[-_ ]?key)(\s*[=: ]\s*)(\S+)"),
    re.compile(r"(?i)(snmp-server community|rocommunity|rwcommunity)(\s+)(\S+)"),
]


class SecretsFilter(logging.Filter):
    """Redacts every registered secret value, and anything that looks like 'password X', in log records."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 3:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        for pat in _PATTERNS:
            text = pat.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        red = self.redact(msg)
        if red != msg:
            record.msg, record.args = red, None
        return True


SECRETS = SecretsFilter()


def register_secret(value: str) -> str:
    """Remember ``value`` so that it is redacted from every log line; returns it unchanged."""
    SECRETS.add(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("device", "group", "event", "decision"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def setup_logging(level: str = "warning", fmt: str = "text", stream=None) -> None:
    """Configure the root logger for the CLI. Library code only ever uses module loggers."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(SECRETS)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # paramiko and netmiko log secrets-adjacent detail at DEBUG; keep them quieter unless asked.
    for noisy in ("paramiko", "netmiko"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
        logging.getLogger(noisy).addFilter(SECRETS)
