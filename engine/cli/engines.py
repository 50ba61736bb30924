"""``--list-engines``: the long-lived engines in the runtime folder, one line each (socket,
pid, uptime, sessions), or one JSON object each with ``--output json``.

Each socket is asked, as a controller that does not attach (it costs the engine nothing
per event): its hello gives the pid and when it started, ``list_sessions`` the sessions.
A socket nobody answers on is the leftover of an engine that died; it is listed as such
(the next engine started there replaces it).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import trio

from ipc.rpc import CommandFailed
from ipc.schema import ListSessions
from ipc.socket_path import engine_sockets, runtime_folder
from ipc.trio_channel import ChannelRefused, connect_socket

__all__ = ["PROBE_SECONDS", "format_uptime", "run_list_engines"]

#: How long one engine may take to answer before it is listed as not answering.
PROBE_SECONDS = 3.0


async def run_list_engines(output: str, out: TextIO = sys.stdout) -> None:
    """Print the engines (``output``: "json" for JSON lines, anything else for a table)."""
    sockets = engine_sockets()
    if not sockets:
        print(
            f"no engines in {runtime_folder()} (start one with: framewire-engine --serve-ipc)",
            file=sys.stderr,
        )
        return
    rows = [await _probe(path) for path in sockets]
    if output == "json":
        for row in rows:
            out.write(json.dumps(row) + "\n")
    else:
        table = [("SOCKET", "PID", "UPTIME", "SESSIONS")]
        for row in rows:
            if row["state"] == "running":
                table.append(
                    (
                        row["socket"],
                        str(row["pid"]),
                        format_uptime(row["uptime"]),
                        str(row["sessions"]),
                    )
                )
            else:
                table.append((row["socket"], "-", "-", f"- ({row['state']})"))
        widths = [max(len(line[i]) for line in table) for i in range(4)]
        for line in table:
            cells = (cell.ljust(w) for cell, w in zip(line, widths, strict=True))
            out.write("  ".join(cells).rstrip() + "\n")
    out.flush()


async def _probe(path: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"socket": str(path), "state": "running"}
    try:
        with trio.fail_after(PROBE_SECONDS):
            async with connect_socket(path, window_bytes=None) as client:
                sessions = (await client.call(ListSessions()))["sessions"]
                hello = client.hello
    except* OSError:
        row["state"] = "stale: no engine"
    except* ChannelRefused as group:
        row["state"] = f"refused: {group.exceptions[0]}"
    except* (trio.TooSlowError, CommandFailed):
        row["state"] = "not answering"
    if row["state"] == "running":
        row.update(
            pid=hello.pid,
            uptime=round(time.time() - (hello.started_at + hello.clock_offset), 3),
            sessions=len(sessions),
        )
    return row


def format_uptime(seconds: float) -> str:
    """``42s``, ``5m07s``, ``3h02m``, ``2d04h``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
