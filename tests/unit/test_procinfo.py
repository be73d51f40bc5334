"""/proc readings of a live process: whole and anonymous RSS."""

from __future__ import annotations

import os

from shopstream.procinfo import rss_bytes, tree_rss_bytes


def test_anonymous_rss_is_part_of_the_whole_and_grows_with_allocations() -> None:
    me = os.getpid()
    whole, anon = rss_bytes(me), rss_bytes(me, anonymous=True)
    assert 0 < anon < whole  # the interpreter's own binary and libraries are file pages
    block = bytearray(64 << 20)
    block[::4096] = b"x" * len(block[::4096])  # a write to every page, so each is resident
    assert rss_bytes(me, anonymous=True) >= anon + (48 << 20)
    assert tree_rss_bytes([me], anonymous=True) >= rss_bytes(me, anonymous=True)
    assert block[4096] == ord("x")  # keeps the block alive until here


def test_a_gone_process_reads_zero() -> None:
    assert rss_bytes(2**22 + 12345) == rss_bytes(2**22 + 12345, anonymous=True) == 0
