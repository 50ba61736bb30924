"""``--to-pcapng RECORDING PCAPNG``: a recording (``--capture``, ``--output json``, the
GUI's JSON lines) as a pcapng file with synthetic TCP/IP headers (``ipc.pcapng``)."""

from __future__ import annotations

from engine.cli.exits import UsageError
from ipc.pcapng import export_pcapng
from ipc.recording import RecordingError, read_recording

__all__ = ["to_pcapng"]


def to_pcapng(source: str, target: str) -> int:
    """Convert ``source`` to ``target``; return the packets written.

    Raises:
        UsageError: a file cannot be read or written, or a line is not a recording line.
    """
    try:
        with open(source, encoding="utf-8") as lines, open(target, "wb") as out:
            return export_pcapng(read_recording(lines), out)
    except OSError as exc:
        raise UsageError(f"--to-pcapng: {exc.filename}: {exc.strerror}") from None
    except (RecordingError, UnicodeDecodeError) as exc:
        raise UsageError(f"--to-pcapng: {source}: {exc}") from None
