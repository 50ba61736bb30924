"""asyncio inside Qt's event loop (``qasync``), one process.

The way an asyncio developer writes the classic sample: ``asyncio.open_connection`` and
a ``readexactly`` loop (4-byte little-endian length, then the payload) that appends each
frame to the ``QTextEdit``, all on the GUI thread.

Run: ``python -m tools.bench.designs.qasync_app --server 127.0.0.1:PORT --out result.json``
"""

from __future__ import annotations

import argparse
import asyncio
import struct

import qasync
from PySide6.QtWidgets import QApplication

from tools.bench.designs.probe import ClassicWindow, Harness, parse_args

DESIGN = "qasync"
LABEL = "asyncio in Qt (qasync)"
_LENGTH = struct.Struct("<L")


async def run(args: argparse.Namespace, window: ClassicWindow) -> None:
    reader, writer = await asyncio.open_connection(args.host, args.port)
    done = asyncio.Event()

    def send(payload: bytes) -> None:
        writer.write(_LENGTH.pack(len(payload)) + payload)

    harness = Harness(
        design=DESIGN,
        label=LABEL,
        plan_name=args.plan,
        out=args.out,
        send=send,
        log=window.log,
        ticks=lambda: window.probe.ticks,
    )
    harness.finished.connect(done.set)

    async def read_frames() -> None:
        while True:
            (length,) = _LENGTH.unpack(await reader.readexactly(4))
            harness.on_frame(await reader.readexactly(length))

    reading = asyncio.ensure_future(read_frames())
    harness.start()
    await done.wait()
    reading.cancel()
    writer.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    app = QApplication([])
    window = ClassicWindow(LABEL)
    window.show()
    qasync.run(run(args, window))
    del app


if __name__ == "__main__":
    main()
