"""The length-prefix decoder as it was before the extended layouts (commit ab2530a's
``engine/framing.py``), frozen here as the baseline of ``tools.bench.framing``.

The extension (a prefix, 3-byte and varint lengths, adjustment, strip) must cost the
common cases (le32, be32) nothing measurable; measuring that needs the old decoder beside
the new one in the same run. Only the decoder is kept, unchanged but for this docstring,
the imports and ``min_header_size`` (the field's size, for the simple layouts it reads
from today's ``FramingSpec``).
Never used outside the benchmark.
"""

from __future__ import annotations

import struct

from ipc.errors import FrameTooLarge, LocalProtocolError, RemoteProtocolError, TruncatedFrame
from ipc.framing import DEFAULT, FramingSpec

__all__ = ["FrameDecoder"]

_COPY_TAIL_BELOW_BYTES = 64 * 1024
_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _header_struct(spec: FramingSpec) -> struct.Struct:
    order = "<" if spec.byte_order == "little" else ">"
    return struct.Struct(order + _STRUCT_CODES[int(spec.length_size)])


class FrameDecoder:
    """Turns a byte stream into complete frame payloads, in order.

    Feed bytes with ``receive_data`` and collect frames with ``frames``, or do both at once
    with ``feed`` (the fast path a reader task uses). Any split of the same stream into
    chunks yields the same frames.

    Errors are reported in order: if one call's data holds complete frames followed by a
    protocol error, those frames are returned first and the error is raised by the next
    call (as wsproto's ``events()`` yields what came before a ``ParseFailed``); ``failed``
    tells a reader to make that call now rather than wait for more data. Once failed, the
    decoder stays failed and every call raises again.
    """

    __slots__ = (
        "_body_length",
        "_eof",
        "_error",
        "_header",
        "_header_size",
        "_includes_header",
        "_limit",
        "_pending",
        "_pending_size",
        "_ready",
        "spec",
    )

    def __init__(self, spec: FramingSpec = DEFAULT) -> None:
        self.spec = spec
        self._header = _header_struct(spec)
        self._header_size = spec.min_header_size
        self._includes_header = spec.length_includes_header
        self._limit = spec.payload_limit
        #: Body length of the frame being received; -1 between frames or inside a header.
        self._body_length = -1
        #: Held bytes: a partial header (when _body_length == -1) or a partial body.
        self._pending: list[bytes | memoryview] = []
        self._pending_size = 0
        #: Frames decoded by receive_data and not yet collected by frames().
        self._ready: list[bytes] = []
        self._error: RemoteProtocolError | None = None
        self._eof = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an incomplete frame (header or body), not counting ready frames."""
        return self._pending_size

    @property
    def frame_bytes_missing(self) -> int:
        """Bytes that would complete the current header or body; 0 between frames.

        A reader may ask for exactly this many bytes: a large body that arrives in one
        read is then returned as that read's own ``bytes`` object, without a copy.
        """
        if self._body_length >= 0:
            return self._body_length - self._pending_size
        if self._pending_size:
            return self._header_size - self._pending_size
        return 0

    @property
    def failed(self) -> bool:
        """True once the decoder has found a protocol error (raised now or on the next call)."""
        return self._error is not None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side (EOF).

        Protocol errors found in ``data`` are raised by the next ``frames()`` call, after the
        frames that precede them.

        Raises:
            RemoteProtocolError: (or its subclasses) the decoder had already failed.
            LocalProtocolError: data was given after EOF.
        """
        self._check_usable()
        self._ready.extend(self._decode(data))

    def frames(self) -> list[bytes]:
        """Return every complete frame available now, in order (an empty list if none).

        Raises:
            FrameTooLarge: a length field exceeded ``spec.max_frame_length`` (checked as soon
                as the header was read; nothing was buffered for that frame).
            TruncatedFrame: the peer closed the stream in the middle of a frame.
            RemoteProtocolError: a length field that counts the header was smaller than
                the header.
        """
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        if self._error is not None:
            raise type(self._error)(str(self._error))
        return []

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """``receive_data(data)`` then ``frames()``, without the intermediate list.

        Raises:
            The union of what ``receive_data`` and ``frames`` raise.
        """
        self._check_usable()
        if self._ready:
            self._ready.extend(self._decode(data))
            return self.frames()
        ready = self._decode(data)
        if ready:
            return ready
        return self.frames()

    def _check_usable(self) -> None:
        if self._error is not None and not self._ready:
            raise type(self._error)(str(self._error))
        if self._eof:
            raise LocalProtocolError("FrameDecoder received data after EOF")

    # Strategy: the common case is a large read holding many whole frames. We walk it with
    # struct.unpack_from and slice each payload out of the chunk once (one copy per frame,
    # no per-byte Python work, no buffer rewriting). Only the leftover of a read is held,
    # as slices in a list, and it is joined with the next read's prefix only when the
    # frame it belongs to is complete.
    def _decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        out: list[bytes] = []
        if self._error is not None:
            return out
        if not data:
            self._eof = True
            if self._pending_size or self._body_length >= 0:
                self._fail(TruncatedFrame(self._truncation_message()))
            return out
        if not isinstance(data, bytes):
            data = bytes(data)
        end = len(data)
        pos = 0
        hsize = self._header_size
        if self._pending_size or self._body_length >= 0:
            if self._body_length < 0:
                missing = hsize - self._pending_size
                if end < missing:
                    self._hold(data)
                    return out
                header = b"".join(self._pending) + data[:missing]
                self._pending.clear()
                self._pending_size = 0
                pos = missing
                if not self._start_body(self._header.unpack(header)[0]):
                    return out
            missing = self._body_length - self._pending_size
            if end - pos < missing:
                self._hold(data if pos == 0 else memoryview(data)[pos:])
                return out
            if not self._pending and pos == 0 and missing == end:
                out.append(data)  # the read is exactly the body: hand it over, no copy
            else:
                self._pending.append(memoryview(data)[pos : pos + missing])
                out.append(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0
            self._body_length = -1
            pos += missing

        unpack_from = self._header.unpack_from
        append = out.append
        last = end - hsize  # a header starting after this is incomplete
        if not self._includes_header:
            # Fast path: whole frames whose length counts the payload only. It stops at the
            # first frame that is incomplete or too large; the careful loop takes it from there.
            limit = self._limit
            while pos <= last:
                length = unpack_from(data, pos)[0]
                start = pos + hsize
                stop = start + length
                if stop > end or length > limit:
                    break
                append(data[start:stop])
                pos = stop
        # Careful path: one checked header at a time.
        while pos <= last:
            if not self._start_body(unpack_from(data, pos)[0]):
                return out
            start = pos + hsize
            stop = start + self._body_length
            if stop > end:
                pos = start
                break
            append(data[start:stop])
            self._body_length = -1
            pos = stop
        if pos < end:
            self._hold(data[pos:] if end - pos < _COPY_TAIL_BELOW_BYTES else memoryview(data)[pos:])
        return out

    def _start_body(self, length: int) -> bool:
        """Check a header's length and enter the body state; False (and failed) if bad."""
        if self._includes_header:
            length -= self._header_size
            if length < 0:
                self._fail(self._short_length_error(length + self._header_size))
                return False
        if length > self._limit:
            self._fail(self._too_large_error(length))
            return False
        self._body_length = length
        return True

    def _hold(self, chunk: bytes | memoryview) -> None:
        self._pending.append(chunk)
        self._pending_size += len(chunk)

    def _fail(self, error: RemoteProtocolError) -> None:
        self._error = error
        self._pending.clear()
        self._pending_size = 0
        self._body_length = -1

    def _too_large_error(self, length: int) -> FrameTooLarge:
        return FrameTooLarge(f"frame length {length} > max {self._limit}")

    def _short_length_error(self, length: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            f"length field {length} is smaller than the {self._header_size}-byte header "
            "it should include"
        )

    def _truncation_message(self) -> str:
        if self._body_length < 0:
            return (
                f"peer closed mid-frame: {self._pending_size} of {self._header_size} "
                "header bytes received"
            )
        return (
            f"peer closed mid-frame: {self._pending_size} of {self._body_length} "
            "payload bytes received"
        )
