"""The ``python -m ui`` command line, and a scripted run of the real application."""

import os
import subprocess
import sys

import pytest

from ui.app import build_parser


def test_bad_options_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--quit-after", "-1"])
    assert exc.value.code == 2
    assert "expected a positive number of seconds, got '-1'" in capsys.readouterr().err


def test_scripted_run_records_ticks_and_stops_its_engine(tmp_path, demo_server):
    ticks = tmp_path / "ticks.txt"
    log = tmp_path / "gui.log"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FRAMEWIRE_TICK_LOG=str(ticks))
    host, port = demo_server
    proc = subprocess.run(
        [sys.executable, "-m", "ui", "--server", f"{host}:{port}", "--log-file", str(log),
         "--quit-after", "1.5"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = ticks.read_text().splitlines()
    assert len(lines) > 20  # about 40 ticks a second
    assert all(float(line.split()[1]) > 0 for line in lines)
    text = log.read_text()
    assert "engine status: ready" in text and "engine status: stopped" in text


def test_without_a_display_scripted_runs_go_offscreen_and_others_get_a_message():
    from ui.app import choose_platform

    if not sys.platform.startswith("linux"):
        assert choose_platform({}, scripted=False) is None
        return
    assert choose_platform({}, scripted=True) == "offscreen"
    assert choose_platform({"DISPLAY": ":0"}, scripted=False) is None
    assert choose_platform({"QT_QPA_PLATFORM": "xcb"}, scripted=False) is None
    with pytest.raises(SystemExit, match="no display"):
        choose_platform({}, scripted=False)
