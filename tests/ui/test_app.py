"""The ``python -m ui`` command line, and a scripted run of the real application."""

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.process_tree import wait_until
from ui.app import build_parser


def test_bad_options_exit_with_a_message(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--quit-after", "-1"])
    assert exc.value.code == 2
    assert "expected a positive number of seconds, got '-1'" in capsys.readouterr().err


def test_a_log_file_that_is_a_directory_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--log-file", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory" in err


def _lines(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_scripted_run_records_ticks_and_stops_its_engine(tmp_path, demo_server):
    ticks = tmp_path / "ticks.txt"
    log = tmp_path / "gui.log"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FRAMEWIRE_TICK_LOG=str(ticks))
    host, port = demo_server
    stderr_path = tmp_path / "stderr.txt"
    # Closed by SIGTERM once the engine is ready and 20 ticks (half a second: two pings)
    # later. A fixed --quit-after would close the window before a loaded machine has
    # started its engine; it is here to make this a scripted run (offscreen) and as a net.
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui", "--server", f"{host}:{port}", "--log-file", str(log),
             "--quit-after", "120"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        wait_until(
            lambda: any("engine status: ready" in line for line in _lines(log)),
            timeout=60,
            what="the engine ready",
        )
        ticked = len(_lines(ticks))
        wait_until(lambda: len(_lines(ticks)) >= ticked + 20, timeout=60, what="20 more ticks")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    stderr = stderr_path.read_text()
    assert proc.returncode == 0, stderr
    # Qt's offscreen noise is filtered (issue 17, item 17)
    assert "propagateSizeHints" not in stderr
    assert all(float(line.split()[1]) > 0 for line in _lines(ticks))
    text = log.read_text()
    # state changes only, not one line per pong (issue 17, item 3); a machine loaded enough
    # to keep the engine from answering for 2 s adds a "not responding", then a "ready"
    assert text.count("engine status: ready") == 1 + text.count("engine status: not responding"), (
        text
    )
    assert "engine status: stopped" in text
    # and the log's rows, with full dates
    (started,) = [line for line in text.splitlines() if "\tengine 1 started" in line]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\tengine\tinfo\t\tengine 1 started \(pid \d+, .*\)",
        started,
    ), started


def test_without_a_display_scripted_runs_go_offscreen_and_others_get_a_message():
    from ui.app import NoDisplay, choose_platform

    if not sys.platform.startswith("linux"):
        assert choose_platform({}, scripted=False) is None
        return
    assert choose_platform({}, scripted=True) == "offscreen"
    assert choose_platform({"DISPLAY": ":0"}, scripted=False) is None
    assert choose_platform({"QT_QPA_PLATFORM": "xcb"}, scripted=False) is None
    with pytest.raises(NoDisplay, match="no display"):
        choose_platform({}, scripted=False)


def _gui_with_fake_ldd(tmp_path, ldd_output: str) -> subprocess.CompletedProcess[str]:
    """``python -m ui`` pointed at an X display that is not there, with an ``ldd`` that
    prints ``ldd_output``: Qt's xcb plugin fails to start, as on a desktop without its
    libraries, whatever this machine has installed (issue 15)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldd = bin_dir / "ldd"
    ldd.write_text(f"#!/bin/sh\ncat <<'EOF'\n{ldd_output}EOF\n")
    ldd.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":64999", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-m", "ui", "--quit-after", "5"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_missing_xcb_libraries_are_named_with_the_install_commands(tmp_path):
    proc = _gui_with_fake_ldd(
        tmp_path, "\tlibxcb-cursor.so.0 => not found\n\tlibxcb-icccm.so.4 => not found\n"
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()  # one clear line instead of Qt's abort
    assert line.startswith("framewire-gui: Qt's xcb platform plugin cannot load")
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in line
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_a_display_that_is_not_there_is_one_line_and_exit_2(tmp_path):
    proc = _gui_with_fake_ldd(tmp_path, "\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert "Qt cannot start platform plugin xcb: " in line
    assert "could not connect to display :64999" in line
