import io

from ui.tick_probe import TickProbe, percentile


def test_percentile_nearest_rank():  # load-safe: made-up numbers
    assert percentile([], 99) == 0.0
    values = list(range(1, 101))
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([5.0], 50) == 5.0


def test_probe_records_intervals_and_lateness_and_writes_sink():  # load-safe: made-up ticks
    sink = io.StringIO()
    probe = TickProbe(nominal=0.025, sink=sink)
    assert probe.tick(1.000) is None
    mark = probe.mark()
    for t in (1.025, 1.050, 1.125, 1.150):
        probe.tick(t)
    intervals = probe.intervals_since(mark)
    assert [round(i, 3) for i in intervals] == [0.025, 0.025, 0.075, 0.025]
    assert round(probe.lateness(), 3) == 0.05
    assert round(probe.lateness(window=1), 3) == 0.0
    lines = sink.getvalue().splitlines()
    assert len(lines) == 4 and lines[2] == "1.125000 75.000"
