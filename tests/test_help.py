"""The three programs' ``--help``: every option explained, the exit codes listed, nothing
garbled, and it fits a terminal."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.cli.parse import build_parser as engine_parser
from tools.launch import build_parser as launcher_parser
from ui.app import build_parser as gui_parser

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 100
#: In an example command, an option glued to the text before it by a run of spaces:
#: what a backslash continuation inside the help's string literal makes of two lines.
GARBLED = re.compile(r"\S {3,}--[a-z]")

PARSERS: dict[str, tuple[Callable[[], argparse.ArgumentParser], tuple[str, ...]]] = {
    "framewire-engine": (engine_parser, ("0", "1", "2", "3", "4", "5", "6")),
    "framewire": (launcher_parser, ("0", "2")),
    "framewire-gui": (gui_parser, ("0", "2")),
}


@pytest.fixture(params=sorted(PARSERS))
def program(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    return str(request.param)


def _help(program: str) -> str:
    return PARSERS[program][0]().format_help()


def test_every_option_is_explained(program: str) -> None:
    parser = PARSERS[program][0]()
    unexplained = [
        action.option_strings
        for action in parser._actions
        if action.option_strings and not action.help
    ]
    assert unexplained == []
    # an option that takes a value names it (METAVAR, not argparse's DEST in capitals)
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and action.choices is None:
            assert action.metavar is not None, action.option_strings


def test_the_help_fits_a_terminal_and_nothing_is_garbled(program: str) -> None:
    text = _help(program)
    too_long = [line for line in text.splitlines() if len(line) > COLUMNS]
    assert too_long == []
    examples = [line for line in text.splitlines() if line.lstrip().startswith(program + " ")]
    assert len(examples) >= 3
    assert [line for line in examples if GARBLED.search(line)] == []


def test_the_help_lists_every_exit_code(program: str) -> None:
    text = _help(program)
    section = text[text.index("exit ") :]
    for code in PARSERS[program][1]:
        assert re.search(rf"(^|[\s(]){code}[\s:;,]", section), (program, code)


def test_no_address_is_one_line_naming_the_other_forms() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engine"], capture_output=True, text=True, cwd=ROOT, timeout=20
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    for form in ("--listen", "--attach", "--serve-ipc", "--list-engines", "--guess-from"):
        assert form in line
