"""A one-shot run loads what it needs and no more, with the collector off while it loads
(issue 15: scripts call the CLI in loops, and its start-up is mostly imports).

Observed from outside the engine's code, in a real ``python -m engine`` process: a
sitecustomize reports what was loaded and how the collector was left, as it exits.
Timings are ``make bench``'s (tools/bench/startup.py), never asserted here.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

import trio

from tests.engine.cli.helpers import DEADLINE_SECONDS, ROOT, lines, payload
from tests.engine.helpers import echo, start_server

#: Every module of ours a plaintext one-shot client loads. A new one needs a reason (it is
#: paid by every run): import it where the feature that needs it runs instead.
ONE_SHOT_MODULES = {
    "engine",
    "engine.allocator",
    "engine.cli",
    "engine.cli.connect",
    "engine.cli.exits",
    "engine.cli.main",
    "engine.cli.output",
    "engine.cli.parse",
    "engine.cli.plan",
    "engine.cli.start",
    "engine.engine",
    "engine.errors",
    "engine.limits",
    "engine.readiness",
    "engine.session",
    "engine.streams",
    "ipc",
    "ipc.cli_args",
    "ipc.diagnosis",  # every session's end is diagnosed
    "ipc.errors",
    "ipc.framing",
    "ipc.lazy_exports",
    "ipc.message_class",
    "ipc.payload_text",
    "ipc.schema",
    "ipc.text",
    # Constants of the parser's help: the history options' defaults, the TLS versions.
    "engine.rpc",
    "engine.rpc.history",
    "ipc.tls",
}
OUR_PACKAGES = ("engine", "ipc", "decoders", "exchanges", "ui", "tools")
#: Libraries other modes use; a plaintext client without --decode or json output
#: needs none of them.
OTHER_LIBRARIES = (
    "msgpack",
    "json",
    "cbor2",
    "google",
    "construct",
    "cryptography",
    "trustme",
    "tomllib",
    "tomli_w",
    "PySide6",
)

PROBE = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print(repr({'modules': sorted(sys.modules),"
    " 'frozen': gc.get_freeze_count(), 'enabled': gc.isenabled()}), file=sys.stderr))\n"
)


async def run_probed(tmp_path: Path, *args: str) -> tuple[list[str], dict[str, Any]]:
    """Run ``python -m engine ARGS``; its stdout lines and what the probe saw at exit."""
    (tmp_path / "sitecustomize.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    with trio.fail_after(DEADLINE_SECONDS):
        result = await trio.run_process(
            [sys.executable, "-m", "engine", *args],
            env=env,
            cwd=ROOT,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = ast.literal_eval(lines(result.stderr)[-1])
    return lines(result.stdout), seen


async def test_a_one_shot_client_loads_only_the_client_with_the_imports_frozen(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    port = await start_server(nursery, echo)
    out, seen = await run_probed(tmp_path, f"127.0.0.1:{port}", "--send", "hello")
    assert [payload(line) for line in out] == ["re:hello"]
    ours = {name for name in seen["modules"] if name.split(".")[0] in OUR_PACKAGES}
    assert ours - ONE_SHOT_MODULES == set()
    loaded = {name.split(".")[0] for name in seen["modules"]}
    assert loaded & set(OTHER_LIBRARIES) == set()
    # engine.cli.start: tens of thousands of import-time objects out of the collector's
    # sight, and the collector running again for what the run makes.
    assert seen["frozen"] > 10_000
    assert seen["enabled"] is True
