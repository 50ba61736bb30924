"""Trio in Qt's guest mode (``qtrio``), one process.

The way a Trio developer writes the classic sample: ``trio.open_tcp_stream`` and a
``receive_some`` loop that splits 4-byte little-endian length-prefixed frames and appends
each to the ``QTextEdit``. Trio's scheduler runs as a guest of Qt's loop, on the GUI
thread, so a slow handler still stops the animation.

Run: ``python -m tools.bench.designs.qtrio_app --server 127.0.0.1:PORT --out result.json``
"""

from __future__ import annotations

import argparse
import struct

import qtrio
import trio

from tools.bench.designs.probe import ClassicWindow, Harness, parse_args

DESIGN = "qtrio"
LABEL = "Trio in Qt (qtrio)"
_LENGTH = struct.Struct("<L")
#: Frames waiting to be written; the script sends three, so this never fills.
SEND_QUEUE = 16


async def run(args: argparse.Namespace) -> None:
    window = ClassicWindow(LABEL)
    window.show()
    stream = await trio.open_tcp_stream(args.host, args.port)
    outgoing, to_send = trio.open_memory_channel[bytes](SEND_QUEUE)
    done = trio.Event()

    harness = Harness(
        design=DESIGN,
        label=LABEL,
        plan_name=args.plan,
        out=args.out,
        send=lambda payload: outgoing.send_nowait(_LENGTH.pack(len(payload)) + payload),
        log=window.log,
        ticks=lambda: window.probe.ticks,
    )
    harness.finished.connect(done.set)

    async def write_frames() -> None:
        async for data in to_send:
            await stream.send_all(data)

    async def read_frames() -> None:
        buffer = bytearray()
        while data := await stream.receive_some(65536):
            buffer += data
            offset = 0
            while len(buffer) - offset >= 4:
                (length,) = _LENGTH.unpack_from(buffer, offset)
                if len(buffer) - offset - 4 < length:
                    break
                harness.on_frame(bytes(buffer[offset + 4 : offset + 4 + length]))
                offset += 4 + length
            del buffer[:offset]

    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(write_frames)
        nursery.start_soon(read_frames)
        harness.start()
        await done.wait()
        nursery.cancel_scope.cancel()


def main() -> None:
    args = parse_args(__doc__ or "")
    qtrio.run(run, args)


if __name__ == "__main__":
    main()
