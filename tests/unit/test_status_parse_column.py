"""``netha status``'s device table shows what the parsers skipped in a device's last reading (unknown
lines skipped, groups or commands unreadable and why) when a device has any; the column is not there
when no device has any."""

from __future__ import annotations

from netha.cli.common import console
from netha.cli.status import render


def _doc(parse_r1, parse_r2=None):
    def dev(parse):
        d = {"host": "198.18.0.11", "health": "healthy", "reason": "", "ssh": {"ok": True, "ms": 3}, "snmp": None}
        if parse is not None:
            d["parse"] = parse
        return d
    return {"groups": {}, "devices": {"r1": dev(parse_r1), "r2": dev(parse_r2)}}


def _out(doc) -> str:
    with console.capture() as cap:
        console.print(render(doc))
    return cap.get()


def test_status_table_shows_skipped_lines_and_unreadable_groups_with_why():
    out = _out(_doc({"skipped_lines": 3, "unreadable": [{"command": "show standby", "why": "group [/7]: no state"}]},
                    {"skipped_lines": 0, "unreadable": []}))
    assert "parse" in out
    assert "3 unknown lines skipped" in out
    assert "1 unreadable" in out
    assert "show standby: group [/7]: no state" in out  # markup it did not write, printed literally


def test_status_table_has_no_parse_column_when_nothing_was_skipped():
    out = _out(_doc({"skipped_lines": 0, "unreadable": []}, None))
    assert "parse" not in out
    assert "skipped" not in out
