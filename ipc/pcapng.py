"""Export a recording to pcapng, with synthetic TCP/IP headers, so Wireshark opens it.

framewire records frames, not packets: the kernel's segmentation, retransmissions and
timings below the frame are not seen. The export rebuilds a plausible TCP stream per
session instead: a three-way handshake before the session's first line, one segment per
frame (split at 64,000 bytes) carrying the frame's wire bytes (the payload with its
length header, rebuilt with the session's framing), sequence and acknowledgement numbers
that follow the bytes, and a FIN each way when the session closes. IP and TCP checksums
are correct. Wireshark's "Follow TCP Stream" then shows the conversation, and its
dissectors (pgsql, mysql, mqtt, modbus, ...) decode it where the port says which.

The file is one section with one interface of link type RAW (101: each packet starts
with its IPv4 or IPv6 header) and microsecond timestamps. The format is small enough
to write by hand (pcapng spec, draft-ietf-opsawg-pcapng: SHB, IDB, EPB); no library.

Sans-IO: ``PcapngWriter`` writes to any binary file object it is given.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from ipc.errors import LocalProtocolError
from ipc.framing import DEFAULT, FramingSpec, encode_frame, parse_framing
from ipc.recording import EventRecord, FrameRecord

__all__ = ["LINKTYPE_RAW", "MAX_SEGMENT", "PcapngWriter", "RecordingExporter", "export_pcapng"]

#: pcapng link type of packets that begin with an IPv4 or IPv6 header.
LINKTYPE_RAW = 101
#: Largest TCP payload of one synthetic segment (an IPv4 packet holds 65,535 bytes).
MAX_SEGMENT = 64_000

_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SYN, _FIN, _ACK, _PSH = 0x02, 0x01, 0x10, 0x08
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _block(kind: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``, as a big-endian 16-bit number."""
    if len(data) % 2:
        data += b"\x00"
    words = array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass(slots=True)
class _Flow:
    """One session's synthetic TCP connection (the local end is the client)."""

    local: tuple[IPAddress, int]
    peer: tuple[IPAddress, int]
    seq_out: int = 1000
    seq_in: int = 5000
    open: bool = False


class PcapngWriter:
    """Writes a pcapng section of synthetic TCP segments to ``out``."""

    def __init__(self, out: BinaryIO, application: str = "framewire") -> None:
        self._out = out
        self._ip_id = 0
        self.packets = 0
        shb = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)
        shb += _option(4, application.encode()) + _option(0, b"")  # shb_userappl, end
        idb = struct.pack("<HHI", LINKTYPE_RAW, 0, 0)
        idb += _option(2, b"framewire") + _option(0, b"")  # if_name, end
        out.write(_block(_SHB, shb) + _block(_IDB, idb))

    def segment(
        self,
        t: float,
        src: tuple[IPAddress, int],
        dst: tuple[IPAddress, int],
        seq: int,
        ack: int,
        flags: int,
        payload: bytes = b"",
    ) -> None:
        """Write one TCP segment from ``src`` to ``dst`` at Unix time ``t``."""
        tcp = struct.pack(
            "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
            65535, 0, 0,
        )  # fmt: skip
        segment = tcp + payload
        if isinstance(src[0], ipaddress.IPv4Address):
            pseudo = src[0].packed + dst[0].packed + struct.pack("!BBH", 0, 6, len(segment))
        else:
            pseudo = src[0].packed + dst[0].packed + struct.pack("!IxxxB", len(segment), 6)
        checksum = _checksum(pseudo + segment)
        segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
        if isinstance(src[0], ipaddress.IPv4Address):
            self._ip_id = (self._ip_id + 1) & 0xFFFF
            header = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), self._ip_id, 0x4000, 64, 6, 0,
                src[0].packed, dst[0].packed,
            )  # fmt: skip
            header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        else:
            header = struct.pack("!IHBB", 6 << 28, len(segment), 6, 64)
            header += src[0].packed + dst[0].packed
        packet = header + segment
        micros = round(t * 1_000_000)
        epb = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(packet), len(packet))
        self._out.write(_block(_EPB, epb + packet))
        self.packets += 1

    def open(self, t: float, flow: _Flow) -> None:
        if flow.open:
            return
        flow.open = True
        self.segment(t, flow.local, flow.peer, flow.seq_out - 1, 0, _SYN)
        self.segment(t, flow.peer, flow.local, flow.seq_in - 1, flow.seq_out, _SYN | _ACK)
        self.segment(t, flow.local, flow.peer, flow.seq_out, flow.seq_in, _ACK)

    def data(self, t: float, flow: _Flow, outgoing: bool, wire: bytes) -> None:
        self.open(t, flow)
        for start in range(0, max(len(wire), 1), MAX_SEGMENT):
            chunk = wire[start : start + MAX_SEGMENT]
            if outgoing:
                self.segment(
                    t, flow.local, flow.peer, flow.seq_out, flow.seq_in, _PSH | _ACK, chunk
                )
                flow.seq_out += len(chunk)
            else:
                self.segment(
                    t, flow.peer, flow.local, flow.seq_in, flow.seq_out, _PSH | _ACK, chunk
                )
                flow.seq_in += len(chunk)

    def close(self, t: float, flow: _Flow) -> None:
        if not flow.open:
            return
        self.segment(t, flow.local, flow.peer, flow.seq_out, flow.seq_in, _FIN | _ACK)
        self.segment(t, flow.peer, flow.local, flow.seq_in, flow.seq_out + 1, _FIN | _ACK)
        self.segment(t, flow.local, flow.peer, flow.seq_out + 1, flow.seq_in + 1, _ACK)
        flow.open = False
        flow.seq_out += 2
        flow.seq_in += 2


def _endpoint(text: str, fallback: tuple[IPAddress, int]) -> tuple[IPAddress, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return fallback
    try:
        return ipaddress.ip_address(host.strip("[]")), int(port)
    except ValueError:
        return fallback  # a host name: the recording did not say which address it was


class RecordingExporter:
    """Turns recording records, one at a time and in order, into pcapng packets on ``out``.

    Each frame's wire bytes are rebuilt with ``framing`` if given, else the framing its
    line names, else le32; a payload that framing cannot express is written as it is.
    """

    def __init__(self, out: BinaryIO, *, framing: FramingSpec | None = None) -> None:
        self.writer = PcapngWriter(out)
        self._framing = framing
        self._flows: dict[tuple[int | None, int], _Flow] = {}
        self._specs: dict[str, FramingSpec] = {}

    def add(self, record: FrameRecord | EventRecord) -> None:
        writer, flows = self.writer, self._flows
        if isinstance(record, EventRecord) and record.event == "engine":
            for open_flow in flows.values():
                writer.close(record.t, open_flow)
            flows.clear()
            return
        if isinstance(record, EventRecord) and record.event not in ("open", "close"):
            return
        engine = record.engine if isinstance(record, FrameRecord) else None
        key = (engine, record.session)
        flow = flows.get(key)
        if flow is None:
            peer = _endpoint(record.peer, (ipaddress.IPv4Address("127.0.0.1"), 9))
            loopback = ipaddress.ip_address("127.0.0.1" if peer[0].version == 4 else "::1")
            local = _endpoint(record.local, (loopback, 40000 + record.session % 20000))
            flow = flows[key] = _Flow(local=local, peer=peer)
        if isinstance(record, EventRecord):
            if record.event == "close":
                writer.close(record.t, flow)
            else:
                writer.open(record.t, flow)
            return
        spec = self._framing or _spec(record.framing, self._specs)
        try:
            wire = encode_frame(record.payload, spec)
        except LocalProtocolError:
            wire = record.payload
        # A relayed frame (dir c2s/s2c) is shown as if captured at its client.
        writer.data(record.t, flow, record.dir in ("out", "c2s"), wire)


def export_pcapng(
    records: Iterable[FrameRecord | EventRecord],
    out: BinaryIO,
    *,
    framing: FramingSpec | None = None,
) -> int:
    """Write ``records`` (a recording, in order) to ``out`` as pcapng; return the packets
    (see ``RecordingExporter``)."""
    exporter = RecordingExporter(out, framing=framing)
    for record in records:
        exporter.add(record)
    return exporter.writer.packets


def _spec(text: str, cache: dict[str, FramingSpec]) -> FramingSpec:
    if not text:
        return DEFAULT
    if text not in cache:
        try:
            cache[text] = parse_framing(text)
        except ValueError:
            cache[text] = DEFAULT
    return cache[text]
