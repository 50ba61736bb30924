"""The intake benchmark's decoder half runs both decoders on the same bytes and reports
what each made of them (a smoke check; the figures come from ``make bench``)."""

from __future__ import annotations

from tools.bench.intake import decoder_rows


def test_both_decoders_read_the_valid_inputs_and_only_now_refuses_the_bad_ones() -> None:
    rows = {row["input"].split(" (")[0].split(",")[0]: row for row in decoder_rows(2**18, 1)}
    for name in ("pings", "sends of 64 x 100 B", "received"):
        before, now = rows[name]["before"]["outcome"], rows[name]["now"]["outcome"]
        assert before == now and now.endswith(" 0 bad"), (name, before, now)
    assert rows["random bytes"]["now"]["outcome"].endswith("not_a_message at byte 0")
    bomb = rows["the 4 GiB bomb"]
    assert bomb["now"]["outcome"].endswith("too_large at byte 16")
    assert bomb["before"]["outcome"] == "0 messages, 0 bad"  # every ping taken as its payload
