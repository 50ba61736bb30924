"""The suite's own rules (tests/README.md), checked on the source of every test module.

``make test`` runs most tests two at a time; a test that reads a clock or a process's
memory and asserts on what it read can fail only because its neighbour took the CPU. Such
a test is marked ``serial`` (it then runs alone, after the parallel pass), or the line
that reads says why load cannot upset it with a ``# load-safe: <why>`` comment. This
check finds the reads, so an unmarked timing test fails here, by name, on the first run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SERIAL = "serial"
LOAD_SAFE = "# load-safe:"
#: Reading one of these is measuring wall-clock or CPU time.
CLOCKS = {
    "monotonic",
    "monotonic_ns",
    "perf_counter",
    "perf_counter_ns",
    "process_time",
    "thread_time",
    "time",
    "time_ns",
}
#: Names (of ui.tick_probe and psutil) whose result is a timing or a memory figure.
MEASURES = {"percentile", "intervals_since", "lateness", "memory_info", "getrusage", "cpu_times"}
#: Text that only a memory reading holds (/proc/PID/status lines).
MEMORY_TEXT = ("VmRSS:", "VmHWM:", "VmSize:")
#: A test that takes one of these runs on trio's MockClock: its current_time() is virtual.
MOCK_CLOCKS = {"autojump_clock", "mock_clock"}


@dataclass(frozen=True)
class Read:
    line: int
    what: str


def _is_serial_mark(node: ast.expr) -> bool:
    """``pytest.mark.serial``, called or not, or a list/tuple holding it."""
    if isinstance(node, ast.Call):
        return _is_serial_mark(node.func)
    if isinstance(node, ast.List | ast.Tuple):
        return any(_is_serial_mark(element) for element in node.elts)
    return isinstance(node, ast.Attribute) and node.attr == SERIAL


def _reads(node: ast.AST, source_lines: list[str], mock_clock: bool) -> Iterator[Read]:
    """Clock and memory reads under ``node``, except on lines marked load-safe."""
    for child in ast.walk(node):
        what = None
        if isinstance(child, ast.Call):
            func = child.func
            if isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else ""
                if owner == "time" and func.attr in CLOCKS:
                    what = f"time.{func.attr}()"
                elif owner == "trio" and func.attr == "current_time" and not mock_clock:
                    what = "trio.current_time() on the real clock"
                elif func.attr in MEASURES:
                    what = f"{func.attr}()"
            elif isinstance(func, ast.Name) and func.id in MEASURES:
                what = f"{func.id}()"
        elif (
            isinstance(child, ast.Constant)
            and isinstance(child.value, str)
            and any(text in child.value for text in MEMORY_TEXT)
        ):
            what = f"a {child.value.split(':')[0]!r} memory reading"
        if what is not None and LOAD_SAFE not in source_lines[child.lineno - 1]:
            yield Read(child.lineno, what)


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name):
            names.add(child.func.id)
        elif isinstance(child, ast.Name):  # a helper passed along (a fixture's factory)
            names.add(child.id)
    return names


def unmarked_timing_tests(path: Path) -> list[str]:
    """``path:line test: reads`` for each test that reads a clock or memory, unmarked."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source, str(path))
    module_serial = any(
        isinstance(stmt, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets)
        and _is_serial_mark(stmt.value)
        for stmt in tree.body
    )
    if module_serial:
        return []
    helpers = {
        stmt.name: stmt
        for stmt in tree.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        and not stmt.name.startswith("test")
    }

    def tests() -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                yield stmt, False
            elif isinstance(stmt, ast.ClassDef) and stmt.name.startswith("Test"):
                class_serial = any(_is_serial_mark(d) for d in stmt.decorator_list)
                for member in stmt.body:
                    if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                        yield member, class_serial

    found = []
    for test, class_serial in tests():
        if not test.name.startswith("test"):
            continue
        if class_serial or any(_is_serial_mark(d) for d in test.decorator_list):
            continue
        if LOAD_SAFE in lines[test.lineno - 1]:  # the whole test is
            continue
        mock_clock = any(arg.arg in MOCK_CLOCKS for arg in test.args.args)
        reads = list(_reads(test, lines, mock_clock))
        # and in the module's own helpers the test calls, however deep
        seen: set[str] = set()
        todo = _called_names(test) & helpers.keys()
        while todo:
            name = todo.pop()
            seen.add(name)
            reads += _reads(helpers[name], lines, mock_clock)
            todo |= (_called_names(helpers[name]) & helpers.keys()) - seen
        if reads:
            lines_of: dict[str, set[int]] = {}
            for read in reads:
                lines_of.setdefault(read.what, set()).add(read.line)
            described = ", ".join(
                f"{what} (line {', '.join(map(str, sorted(at)))})"
                for what, at in sorted(lines_of.items())
            )
            where = path.relative_to(TESTS.parent) if path.is_relative_to(TESTS) else path
            found.append(f"{where}:{test.lineno} {test.name}: {described}")
    return found


#: A module the check is tried on: three tests it must find, four it must let be.
EXAMPLE = """\
import time
import pytest

def elapsed(start):
    return time.monotonic() - start

def test_unmarked():
    assert elapsed(0) < 1

@pytest.mark.serial
def test_marked():
    assert time.perf_counter() < 1

def test_lower_bound():
    start = time.monotonic()  # load-safe: a lower bound

def test_synthetic(probe):  # load-safe: made-up ticks
    assert probe.intervals_since(0) == []

def test_rss(pid):
    assert 'VmRSS:' in open(f'/proc/{pid}/status').read()

async def test_mocked(autojump_clock):
    import trio
    assert trio.current_time() >= 0

async def test_real_clock():
    import trio
    assert trio.current_time() >= 0
"""


def test_every_test_that_reads_a_clock_or_memory_is_serial_or_says_why_not() -> None:
    found = [
        line for path in sorted(TESTS.rglob("test_*.py")) for line in unmarked_timing_tests(path)
    ]
    assert not found, (
        "these tests read a clock or a process's memory but are not marked "
        "@pytest.mark.serial; mark them, or end the reading line with "
        "'# load-safe: <why load cannot change the outcome>' (tests/README.md):\n"
        + "\n".join(found)
    )


def test_the_check_finds_an_unmarked_timing_test_and_accepts_marked_or_load_safe_ones(
    tmp_path: Path,
) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(EXAMPLE)
    found = unmarked_timing_tests(module)
    assert [line.split(" ")[1].rstrip(":") for line in found] == [
        "test_unmarked",
        "test_rss",
        "test_real_clock",
    ]
    assert "time.monotonic() (line 5)" in found[0]
    module.write_text(
        "import pytest, time\npytestmark = [pytest.mark.serial]\n"
        + "def test_a():\n    time.time()\n"
    )
    assert unmarked_timing_tests(module) == []
