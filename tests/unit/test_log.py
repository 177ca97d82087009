"""Secrets never reach the logs: registered values and password-like phrases are redacted."""

from __future__ import annotations

import logging

from netha.log import SECRETS, register_secret


def test_registered_secret_is_redacted_from_log_records(caplog):
    register_secret("Zx9-secret-value")
    log = logging.getLogger("netha.test")
    log.addFilter(SECRETS)
    with caplog.at_level(logging.INFO, logger="netha.test"):
        log.info("login with %s failed", "Zx9-secret-value")
    assert "Zx9-secret-value" not in caplog.text
    assert "********" in caplog.text


def test_password_phrases_in_device_output_are_redacted():
    assert "hunter2" not in SECRETS.redact("username admin password hunter2")
    assert "s3cret" not in SECRETS.redact("snmp-server community s3cret RO")
