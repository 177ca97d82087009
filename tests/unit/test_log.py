"""Secrets never reach the logs: registered values and password-like phrases are redacted."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from netha.log import SECRETS, JsonFormatter, SecretsFilter, redact, redact_data, register_secret, setup_logging


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


# -- what a secret looks like in device configs and output ---------------------------------------

@pytest.mark.parametrize("line,secret", [
    ("    auth_pass s3cr3tpw", "s3cr3tpw"),                                   # keepalived
    ('authentication-key "$9$dkf.5QF/9pB"; ## SECRET-DATA', "$9$dkf.5QF/9pB"),  # Junos
    (" key-string 7 0822455D0A16", "0822455D0A16"),                          # IOS key chain
    (" key-string MyPlainKey", "MyPlainKey"),
    (" key 7 0822455D0A1612", "0822455D0A1612"),                             # IOS key with a type
    ("username admin password 7 02050D480809", "02050D480809"),
    ("enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0", "$1$mERr$hx5rVt7rPNoS4wqbXKX7m0"),
    ("username admin secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkO", "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkO"),
    ("+ password 0 hunter2hunter", "hunter2hunter"),
    ("snmp-server community Pr1v4teC0mm RO", "Pr1v4teC0mm"),
    ("rocommunity Pr1v4teC0mm 198.18.0.0/15", "Pr1v4teC0mm"),
    ("    community Pr1v4teC0mm {", "Pr1v4teC0mm"),                          # Junos snmp
    ("snmp-server user netha ops v3 auth sha Auth-Pass-1 priv aes 128 Priv-Pass-1", "Auth-Pass-1"),
    ("snmp-server user netha ops v3 auth sha Auth-Pass-1 priv aes 128 Priv-Pass-1", "Priv-Pass-1"),
    ("snmp-server user netha ops v3 auth sha256 Auth-Pass-1 priv aes256 Priv-Pass-1", "Priv-Pass-1"),
    ('createUser netha SHA "Auth-Pass-1" AES "Priv-Pass-1"', "Auth-Pass-1"),
    ('createUser netha SHA "Auth-Pass-1" AES "Priv-Pass-1"', "Priv-Pass-1"),
    ("authentication-password Auth-Pass-1;", "Auth-Pass-1"),
    ("privacy-password Priv-Pass-1;", "Priv-Pass-1"),
    (" vrrp 1 authentication text VrrpPw1", "VrrpPw1"),
    (" ip ospf message-digest-key 1 md5 7 OspfKey123", "OspfKey123"),
    ('{"password": "hunter2hunter", "user": "netha"}', "hunter2hunter"),
    ("password=hunter2hunter other", "hunter2hunter"),
])
def test_redact_covers_vendor_secret_syntaxes(line, secret):
    out = redact(line)
    assert secret not in out, out
    assert "********" in out


def test_redact_keeps_the_encryption_type_and_the_rest_of_the_line():
    assert redact(" key-string 7 0822455D0A16") == " key-string 7 ********"
    assert redact("snmp-server community Pr1v4teC0mm RO") == "snmp-server community ******** RO"
    assert redact('{"password": "hunter2hunter"}') == '{"password": "********"}'


def test_redact_leaves_ordinary_config_alone():
    text = ("interface eth1\n vrrp 1 priority 200\n key 1\n  key-string\n"
            "snmp-server community\nSNMP v2c needs 'community' and a user\n"
            "vrrp_instance lan {\n    auth_type PASS\n}\n")
    assert redact(text) == text


def test_a_keyword_at_the_end_of_a_line_does_not_redact_the_next_line():
    assert redact("password\nhostname r1") == "password\nhostname r1"


def test_ssh_private_key_block_is_redacted_even_when_cut_short():
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    whole = f"before\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\nafter"
    out = redact(whole)
    assert body not in out and out.startswith("before\n") and out.endswith("\nafter")
    assert "PRIVATE KEY" in out
    cut = f"-----BEGIN RSA PRIVATE KEY-----\n{body}"
    assert body not in redact(cut)


def test_short_registered_secret_is_redacted_as_a_whole_word_only():
    f = SecretsFilter()
    f.add("Q9")
    assert f.redact("login Q9 failed") == "login ******** failed"
    assert f.redact("user=Q9") == "user=********"
    assert f.redact("Q99 and aQ9 and Q9b stay") == "Q99 and aQ9 and Q9b stay"


def test_one_character_secret_is_redacted_too():
    f = SecretsFilter()
    f.add("7")
    assert f.redact("the pin is 7.") == "the pin is ********."
    assert f.redact("vrrp 17 priority 170") == "vrrp 17 priority 170"


def test_a_longer_secret_containing_a_shorter_one_is_redacted_whole():
    f = SecretsFilter()
    f.add("abcd")
    f.add("abcdefgh-long")
    assert f.redact("x abcdefgh-long y") == "x ******** y"


def _record_with_exception(message: str) -> logging.LogRecord:
    try:
        raise RuntimeError(f"device said: {message}")
    except RuntimeError:
        return logging.LogRecord("netha.test", logging.ERROR, __file__, 1, "push failed", None, sys.exc_info())


def test_json_log_exception_field_is_redacted():
    register_secret("Exc-secret-42")
    rec = _record_with_exception("auth_pass kp-S3cret and Exc-secret-42")
    doc = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError" in doc["exc"]
    assert "kp-S3cret" not in doc["exc"] and "Exc-secret-42" not in doc["exc"]


def test_json_log_stack_info_and_extras_are_redacted():
    register_secret("Stack-secret-42")
    rec = logging.LogRecord("netha.test", logging.INFO, __file__, 1, "m", None, None, sinfo="Stack-secret-42 in frame")
    rec.device = "r1 password hunter2hunter"
    doc = json.loads(JsonFormatter().format(rec))
    assert "Stack-secret-42" not in doc["stack"] and "hunter2hunter" not in doc["device"]


def test_text_log_exception_is_redacted_end_to_end():
    register_secret("Txt-secret-42")
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("info", "text", stream)
        try:
            raise ValueError("password hunter2hunter and Txt-secret-42")
        except ValueError:
            logging.getLogger("netha.test").exception("with %s", "Txt-secret-42", stack_info=True)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    out = stream.getvalue()
    assert "ValueError" in out and "Stack (most recent call last)" in out
    assert "hunter2hunter" not in out and "Txt-secret-42" not in out


def test_redact_data_walks_json_like_values():
    assert redact_data({"a": ["password hunter2hunter", 3, None]}) == {"a": ["password ********", 3, None]}
