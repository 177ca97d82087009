"""An unreadable group is a warning once, not once a poll: the same (device, command, reason) is logged
at warning the first time, then at debug while the device's polls keep reporting it; a new reason, or
an old one that went away and came back, is a warning again. Every poll still counts it (notes)."""

from __future__ import annotations

import logging

import pytest

from netha.drivers.base import collecting_notes, skip_group

LOGGER = "netha.drivers.base"


def _poll(device: str, *reports: tuple[str, str]) -> list[tuple[int, str]]:
    """One poll of ``device`` reporting ``(command, why)`` pairs: the records skip_group logged."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    logger = logging.getLogger(LOGGER)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with collecting_notes(device) as notes:
            for what, why in reports:
                skip_group(device, what, why)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert notes.unreadable == list(reports)  # every poll counts them, logged at warning or not
    return [(r.levelno, r.getMessage()) for r in records]


def _levels(records: list[tuple[int, str]]) -> list[int]:
    return [level for level, _ in records]


@pytest.fixture
def device(request) -> str:
    # A device name of its own per test: the dedupe is process-wide, as the polls are.
    return f"dedupe-{request.node.name}"


def test_the_same_reason_is_a_warning_once_then_debug(device):
    first = _poll(device, ("show standby", "group 7: no state"))
    assert _levels(first) == [logging.WARNING]
    assert "group 7: no state" in first[0][1]
    for _ in range(3):
        assert _levels(_poll(device, ("show standby", "group 7: no state"))) == [logging.DEBUG]


def test_a_new_reason_for_the_same_command_is_a_warning(device):
    _poll(device, ("show standby", "group 7: no state"))
    records = _poll(device, ("show standby", "group 7: no state"), ("show standby", "group 9: no address"))
    assert _levels(records) == [logging.DEBUG, logging.WARNING]


def test_two_reasons_in_each_poll_stay_at_debug(device):
    reports = (("show vrrp all", "group 1: bad"), ("show vrrp all", "group 2: bad"))
    assert _levels(_poll(device, *reports)) == [logging.WARNING, logging.WARNING]
    assert _levels(_poll(device, *reports)) == [logging.DEBUG, logging.DEBUG]


def test_a_reason_that_went_away_and_came_back_is_a_warning_again(device):
    _poll(device, ("show vrrp all", "group 1: bad"))
    assert _poll(device) == []  # a clean poll of the device
    assert _levels(_poll(device, ("show vrrp all", "group 1: bad"))) == [logging.WARNING]


def test_another_device_with_the_same_reason_is_its_own_warning(device):
    _poll(device, ("show vrrp all", "group 1: bad"))
    assert _levels(_poll(device + "-b", ("show vrrp all", "group 1: bad"))) == [logging.WARNING]
    assert _levels(_poll(device, ("show vrrp all", "group 1: bad"))) == [logging.DEBUG]


def test_another_devices_clean_poll_forgets_nothing_of_this_one(device):
    _poll(device, ("show vrrp all", "group 1: bad"))
    _poll(device + "-b")
    assert _levels(_poll(device, ("show vrrp all", "group 1: bad"))) == [logging.DEBUG]
