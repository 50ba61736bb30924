import sys

import pytest

from ui import log_store
from ui.log_store import BIG_BATCH_BYTES, Direction, LogFilter, LogStore


def fill(store, batches):
    for session, direction, payloads in batches:
        store.append(session, direction, 1.0, payloads)


def test_rows_are_found_across_batches():
    store = LogStore(cap=100)
    fill(store, [("#1", Direction.IN, [b"a", b"b"]), ("#2", Direction.OUT, [b"c"])])
    store.append("#1", Direction.IN, 1.0, [])  # empty batches are not stored
    assert len(store) == 3
    assert [r.payload for r in store.rows(0, 3)] == [b"a", b"b", b"c"]
    row = store.row(2)
    assert (row.seq, row.session, row.direction, row.payload) == (2, "#2", Direction.OUT, b"c")
    assert store.sessions() == ["#1", "#2"]


def test_cap_drops_oldest_rows_and_counts_them():
    store = LogStore(cap=5)
    for i in range(10):
        store.append("#1", Direction.IN, 1.0, [bytes([i]), bytes([i])])
    assert store.excess() == 15
    assert store.trim() == 15
    assert (len(store), store.dropped, store.first_seq, store.end_seq) == (5, 15, 15, 20)
    assert [r.payload for r in store.rows(0, 100)] == [b"\x07", b"\x08", b"\x08", b"\x09", b"\x09"]
    with pytest.raises(IndexError, match="not held"):
        store.row(14)


def test_trim_compacts_many_batches():
    store = LogStore(cap=10)
    for i in range(5000):
        store.append("#1", Direction.IN, 1.0, [i.to_bytes(4, "big")])
        store.trim()
    assert [int.from_bytes(r.payload, "big") for r in store.rows(0, 10**6)] == list(
        range(4990, 5000)
    )


def test_match_by_session_direction_and_text():
    store = LogStore(cap=100)
    fill(
        store,
        [
            ("#1", Direction.IN, [b"apple", b"banana"]),
            ("#2", Direction.IN, [b"apple pie"]),
            ("#1", Direction.OUT, [b"apple"]),
        ],
    )
    assert store.match(LogFilter(), 0, 10) == [0, 1, 2, 3]
    assert store.match(LogFilter(session="#1"), 0, 10) == [0, 1, 3]
    assert store.match(LogFilter(direction=Direction.IN, text="apple"), 0, 10) == [0, 2]
    assert store.match(LogFilter(text="apple"), 1, 3) == [2]
    store.clear()
    assert len(store) == 0 and store.dropped == 0
    assert store.match(LogFilter(), 0, 10) == []


def test_payloads_of_every_size_and_batching_are_read_back_exactly():
    store = LogStore(cap=100_000)
    payloads = [bytes([i % 256]) * (i % 7) for i in range(1000)]  # includes empty frames
    store.append("#1", Direction.IN, 1.0, payloads)
    big = [b"x" * BIG_BATCH_BYTES, b"small", b"y" * (BIG_BATCH_BYTES + 1)]
    store.append("#1", Direction.IN, 2.0, big[:1])
    store.append("#1", Direction.IN, 2.0, big[1:])
    singles = [b"%d" % i for i in range(500)]
    for payload in singles:
        store.append("#2", Direction.OUT, 3.0, [payload])
    expected = payloads + big + singles
    assert [r.payload for r in store.rows(0, 10**6)] == expected
    assert [store.payload(seq) for seq in range(len(expected))] == expected
    assert store.payload(1000) is big[0]  # a big payload that came alone is not copied
    assert store.row(1001) == (1001, 2.0, "#1", Direction.IN, b"small")
    assert store.row(1500).session == "#2" and store.row(1500).direction is Direction.OUT


def test_chunk_and_page_boundaries_and_dropping_them(monkeypatch):
    monkeypatch.setattr(log_store, "CHUNK_BYTES", 64)
    monkeypatch.setattr(log_store, "BIG_BATCH_BYTES", 20)
    monkeypatch.setattr(log_store, "PAGE_ROWS", 16)
    store = LogStore(cap=50)
    sent = []
    for i in range(40):
        batch = [bytes([i]) * (i % 9) for _ in range(i % 5 + 1)]
        sent += batch
        store.append(f"#{i % 3}", Direction.IN, float(i), batch)
        store.trim()
    held = sent[-50:]
    assert [r.payload for r in store.rows(0, 10**6)] == held
    assert len(store._chunks) <= 50  # chunks of dropped rows were freed
    assert len(store._pages) <= 5  # and their pages
    needle_rows = store.match(LogFilter(text="\x27\x27"), 0, 10**6)
    assert [store.payload(s) for s in needle_rows] == [p for p in held if b"\x27\x27" in p]


def test_rows_are_not_objects_however_they_are_batched():
    """Issue 17, item 2: a row arriving alone costs no Python object of its own (as one
    it cost a tuple, a batch object and a list entry: ~400 bytes for 100 of payload);
    tools/bench/gui.py measures the bytes per row."""
    store = LogStore(cap=1_000_000)
    payload = bytes(100)
    store.append("#1", Direction.IN, 1.0, [payload])
    before = sys.getallocatedblocks()
    for _ in range(100_000):  # the worst batching: one row per append
        store.append("#1", Direction.IN, 1.0, [payload])
    assert sys.getallocatedblocks() - before < 1_000
    assert len(store) == 100_001


def test_text_search_never_matches_across_rows():
    store = LogStore(cap=10_000)
    payloads = [b"ab", b"cd", b"abcd", b"xabx", b"a", b"b"] * 10
    store.append("#1", Direction.IN, 1.0, payloads)
    expected = [i for i, p in enumerate(payloads) if b"bc" in p]
    assert store.match(LogFilter(text="bc"), 0, 60) == expected
    assert store.match(LogFilter(text="ab"), 6, 12) == [6, 8, 9]
    assert store.match(LogFilter(text="ab"), 7, 9) == [8]
