"""The Internet checksum: the same as the RFC 1071 sum of 16-bit words, for every input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netha.observe.inet import checksum


def word_sum_checksum(data: bytes) -> int:
    """RFC 1071 as written: the one's complement of the one's complement sum of the 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.mark.parametrize("data", [b"", b"\0", b"\0\0", b"\0\0\0", b"\xff", b"\xff\xff", b"\xff\xff\xff\xff",
                                  b"\x00\x01\xff\xfe", b"\xff\xfe\x00\x01", b"\x80\x00\x80\x00", b"\x01"])
def test_edge_cases_are_the_word_sum(data):
    """All zero (0xffff), sums that are multiples of 0xffff (0), odd lengths (a zero byte padded)."""
    assert checksum(data) == word_sum_checksum(data)


def test_a_packet_with_its_checksum_sums_to_zero():
    msg = bytearray(b"\x31\x01\xc8\x01\x00\x0a\x00\x00\xc6\x12\x01\x01")
    msg[6:8] = struct.pack("!H", checksum(bytes(msg)))
    assert checksum(bytes(msg)) == 0 and checksum(bytearray(msg)) == 0 and checksum(memoryview(bytes(msg))) == 0


@given(st.binary(max_size=300))
def test_any_data_is_the_word_sum(data):
    assert checksum(data) == word_sum_checksum(data)


@given(st.lists(st.sampled_from([b"\x00\x00", b"\xff\xff", b"\x00\x01", b"\xff\xfe", b"\x80\x00"]), max_size=40),
       st.booleans())
def test_words_that_carry_are_the_word_sum(words, odd):
    data = b"".join(words) + (b"\xff" if odd else b"")
    assert checksum(data) == word_sum_checksum(data)
