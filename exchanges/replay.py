"""Recordings as scripts: replaying a recording, and saving a session as a script.

A replay is a script made from a recording (``ipc.recording``, docs/recording.md): each
frame one side sent becomes a send step, each frame the other side sent an expect step
for exactly those bytes (less ``--ignore``'s byte ranges and decoded fields), so a
replay runs, fails and reports like any script ("frame 7", at its line in the file).

Which side is which: ``out``/``in`` lines are a client's view (the CLI's client mode, the
window), ``c2s``/``s2c`` a relay's. A client replay sends the client's frames and
expects the server's; a server replay (``--listen --replay``) the other way round.

``keep_timing`` puts a wait before each send: the gap the recording shows between it
and the frame before it. Without it the frames go as fast as the peer takes them, each
after the frames recorded before it came back.

``script_text`` goes the other way: a session's frames as a TOML script to edit and
rerun (the window's "Save session as script").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from exchanges.errors import ScriptError
from exchanges.matching import Expectation, Ignore
from exchanges.messages import Message
from exchanges.script import DEFAULT_STEP_TIMEOUT, MAX_STEPS, Script, Step
from ipc.payload_text import looks_like_text
from ipc.recording import FrameRecord, RecordingError, parse_line

__all__ = ["CLIENT_SIDE", "SERVER_SIDE", "SessionFrame", "script_from_recording", "script_text"]

#: Directions of frames the client sent, and the server.
CLIENT_SIDE = frozenset({"out", "c2s"})
SERVER_SIDE = frozenset({"in", "s2c"})


def script_from_recording(
    lines: Iterable[str],
    *,
    path: str,
    role: str = "client",
    session: int | None = None,
    ignore: Sequence[Ignore] = (),
    keep_timing: bool = False,
    step_timeout: float = DEFAULT_STEP_TIMEOUT,
) -> Script:
    """The script that replays one session of a recording as ``role`` (client or server).

    ``session`` picks the session (``--session``); it may be left out when the
    recording holds one.

    Raises:
        ScriptError: a bad line (with its number), no frames, or several sessions and no
            ``session``.
    """
    records: list[tuple[int, FrameRecord]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = parse_line(line)
        except RecordingError as exc:
            raise ScriptError(f"not a recording line: {exc}", path=path, line=number) from None
        if isinstance(record, FrameRecord) and record.dir in CLIENT_SIDE | SERVER_SIDE:
            records.append((number, record))
    sessions = sorted({_session_key(r) for _, r in records})
    if not sessions:
        raise ScriptError("the recording holds no frames to replay", path=path)
    if session is None:
        if len(sessions) > 1:
            names = ", ".join(_session_name(key) for key in sessions)
            raise ScriptError(
                f"the recording holds {len(sessions)} sessions ({names}): choose one with "
                "--session ID",
                path=path,
            )
        chosen = sessions[0]
    else:
        matching = [key for key in sessions if key[1] == session]
        if not matching:
            names = ", ".join(_session_name(key) for key in sessions)
            raise ScriptError(f"the recording has no session {session} (it has {names})", path=path)
        chosen = matching[-1]
    count = sum(1 for _, r in records if _session_key(r) == chosen)
    if count > MAX_STEPS:
        raise ScriptError(
            f"the session holds {count:,} frames; a replay takes at most {MAX_STEPS:,} "
            "(split the recording)",
            path=path,
        )
    ours = CLIENT_SIDE if role == "client" else SERVER_SIDE
    steps: list[Step] = []
    previous: float | None = None
    frame_number = 0
    for where, record in records:
        if _session_key(record) != chosen:
            continue
        frame_number += 1
        size = f"{len(record.payload):,} byte{'' if len(record.payload) == 1 else 's'}"
        name = f"frame {frame_number}"
        if record.dir in ours:
            if keep_timing and previous is not None and record.t > previous:
                gap = record.t - previous
                steps.append(
                    Step(
                        kind="wait",
                        number=name,
                        line=where,
                        label=f"wait {gap:.3f} s as recorded",
                        seconds=gap,
                    )
                )
            steps.append(
                Step(
                    kind="send",
                    number=name,
                    line=where,
                    label=f"send the recorded frame ({record.dir}, {size})",
                    message=Message("hex", record.payload.hex()),
                )
            )
        else:
            steps.append(
                Step(
                    kind="expect",
                    number=name,
                    line=where,
                    label=f"expect the recorded frame ({record.dir}, {size})",
                    expectation=Expectation(hex=record.payload.hex(), ignore=tuple(ignore)),
                )
            )
        previous = record.t
    return Script(
        name=Path(path).stem or "replay",
        path=path,
        steps=tuple(steps),
        step_timeout=step_timeout,
        framing=next(
            (r.framing for _, r in records if _session_key(r) == chosen and r.framing), None
        ),
    )


def _session_key(record: FrameRecord) -> tuple[int, int]:
    return (record.engine or 1, record.session)


def _session_name(key: tuple[int, int]) -> str:
    generation, number = key
    return str(number) if generation <= 1 else f"{number} (engine run {generation})"


@dataclass(frozen=True, slots=True)
class SessionFrame:
    """A frame of a session to save as a script: ``dir`` is ``in`` or ``out``."""

    dir: str
    payload: bytes


def script_text(
    frames: Sequence[SessionFrame],
    *,
    name: str,
    framing: str = "",
    encoding: str = "utf-8",
    comment: str = "",
) -> str:
    """A script (TOML) that sends the ``out`` frames and expects the ``in`` frames, as
    text where the payload reads as text and as hex otherwise."""
    data: dict[str, Any] = {"name": name}
    if framing:
        data["framing"] = framing
    if encoding != "utf-8":
        data["encoding"] = encoding
    steps = []
    for frame in frames:
        body = _body(frame.payload, encoding)
        steps.append({"send": body} if frame.dir == "out" else {"expect": body})
    data["steps"] = steps
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return head + tomli_w.dumps(data, multiline_strings=False)


def _body(payload: bytes, encoding: str) -> dict[str, str]:
    if looks_like_text(payload, encoding):
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            text = None
        if text is not None and text.isprintable():
            return {"text": text}
    return {"hex": payload.hex(" ")}
