"""The replay benchmark on a tiny workload: every contender completes every pair (speed
lives in ``make bench``)."""

from __future__ import annotations

from tools.bench import replay


def test_each_contender_completes_the_pairs() -> None:
    result = replay.measure(200)  # the replay raises unless every reply was the recorded one
    assert result["bare"] > 0 and result["replay"] > 0 and result["runner"] > 0
    assert len(replay.recording_lines(3)) == 6
