"""A process's memory as Linux reports it in ``/proc/PID/status``, for the benchmarks
that give memory figures."""

from __future__ import annotations

from pathlib import Path

__all__ = ["reset_peak", "status_kib"]


def status_kib(field: str, pid: int | str = "self") -> int:
    """``field`` of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``: the peak RSS), in KiB.

    Raises:
        FileNotFoundError: the process is gone.
        LookupError: no such field.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise LookupError(f"/proc/{pid}/status has no {field}")


def reset_peak() -> int:
    """Start this process's peak RSS (``VmHWM``) afresh and return its RSS now, in KiB.

    ``ru_maxrss`` never comes down, so in a process that ran bigger benchmarks before, a
    later one's growth would read 0; writing 5 to ``clear_refs`` resets the peak (Linux
    4.0 and later).
    """
    Path("/proc/self/clear_refs").write_text("5")
    return status_kib("VmRSS")
