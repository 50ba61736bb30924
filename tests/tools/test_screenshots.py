"""tools.screenshots without a display: it refuses clearly, and its command line checks input.

Taking the pictures needs an X server (xvfb-run), which the test suite does not assume;
``make screenshots`` runs the whole thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.screenshots import EXIT_USAGE, build_parser, display_problem, main

REPO = Path(__file__).resolve().parents[2]


def test_no_display_says_to_use_xvfb_run():
    problem = display_problem({"PATH": os.environ.get("PATH", "")})
    assert problem is not None
    assert "DISPLAY" in problem and "xvfb-run" in problem
    assert "\n" not in problem


def test_missing_import_is_named(tmp_path):
    problem = display_problem({"DISPLAY": ":99", "PATH": str(tmp_path)})
    assert problem is not None and "'import'" in problem and "imagemagick" in problem


def test_display_and_import_present(tmp_path):
    tool = tmp_path / "import"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert display_problem({"DISPLAY": ":99", "PATH": str(tmp_path)}) is None


def test_main_without_display_exits_2_before_starting_anything(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    out = tmp_path / "img"
    assert main(["--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xvfb-run" in err
    assert not out.exists()  # nothing was created or started


def test_command_line_without_display():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "tools.screenshots", "--out", "unused"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stderr.startswith("screenshots: DISPLAY is not set")
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_defaults():
    args = build_parser().parse_args([])
    assert args.out == Path("docs/img")
    assert args.stream_frames == 3_000_000
    assert args.timeout == 30.0


@pytest.mark.parametrize(
    "argv",
    [
        ["--stream-frames", "0"],
        ["--stream-frames", "many"],
        ["--timeout", "-1"],
        ["--timeout", "soon"],
        ["--timeout", "inf"],
        ["--timeout", "nan"],
        ["--unknown"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err
