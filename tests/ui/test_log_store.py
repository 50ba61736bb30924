import pytest

from ui.log_store import Direction, LogFilter, LogStore


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


def test_large_batches_are_packed_and_read_back_exactly():
    store = LogStore(cap=10_000)
    payloads = [bytes([i % 256]) * (i % 7) for i in range(1000)]  # includes empty frames
    store.append("#1", Direction.IN, 1.0, payloads)
    assert store._batches[0].payloads is None  # packed
    assert [r.payload for r in store.rows(0, 1000)] == payloads
    assert store.row(999).payload == payloads[999]
    big = [b"x" * 100_000] * 10
    store.append("#1", Direction.IN, 1.0, big)
    assert store._batches[1].payloads == tuple(big)  # big frames are not packed


def test_text_search_in_packed_batches_never_matches_across_rows():
    store = LogStore(cap=10_000)
    payloads = [b"ab", b"cd", b"abcd", b"xabx", b"a", b"b"] * 10
    store.append("#1", Direction.IN, 1.0, payloads)
    assert store._batches[0].payloads is None
    expected = [i for i, p in enumerate(payloads) if b"bc" in p]
    assert store.match(LogFilter(text="bc"), 0, 60) == expected
    assert store.match(LogFilter(text="ab"), 6, 12) == [6, 8, 9]
    assert store.match(LogFilter(text="ab"), 7, 9) == [8]
