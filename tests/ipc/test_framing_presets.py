"""Each protocol preset against byte tables taken from that protocol's public documentation.

Every case is (preset, wire bytes as documented, the frame framewire delivers): decoding
the wire gives the frame, encoding the frame gives the wire back, byte for byte.
"""

from __future__ import annotations

import pytest

from ipc.framing import PRESET_NOTES, PRESETS, FrameDecoder, encode_frame

TELTONIKA_CODEC8 = bytes.fromhex(
    # Teltonika wiki, "Codec" page, Codec 8 example: preamble, data field length 0x36,
    # codec id 08, one AVL record, number of data 01, CRC-16 0000C7CF.
    "000000000000003608010000016B40D8EA300100000000000000000000000000000001050215030101"
    "01425E0F01F10000601A014E0000000000000000010000C7CF"
)
RDP_X224_CONNECTION_REQUEST = bytes.fromhex(
    # [MS-RDPBCGR] 4.1.1 Client X.224 Connection Request PDU: TPKT header 03 00 00 2c
    # (length 44, header included), X.224 CR, "Cookie: mstshash=eltons\r\n", RDP_NEG_REQ.
    "0300002c27e00000000000436f6f6b69653a206d737473686173683d656c746f6e730d0a0100080000000000"
)

CASES = [
    # PostgreSQL docs, "Message Formats": ReadyForQuery (B) is Byte1('Z'), Int32(5) (the
    # length counts itself), Byte1 status ('I' idle).
    ("pg", b"Z\x00\x00\x00\x05I", b"ZI"),
    # Query (F): Byte1('Q'), Int32 length, String (NUL-terminated).
    ("pg", b"Q\x00\x00\x00\x0dSELECT 1\x00", b"QSELECT 1\x00"),
    # MySQL internals, "MySQL Packets": 01 00 00 00 01 is a COM_QUIT (payload length 1,
    # sequence id 0, payload 0x01); framewire's frame is the sequence id and the payload.
    ("mysql", bytes.fromhex("0100000001"), b"\x00\x01"),
    # Protocol Buffers docs, "Base 128 Varints": 150 is 96 01.
    ("varint", b"\x96\x01" + b"m" * 150, b"m" * 150),
    ("varint", b"\x01\x08", b"\x08"),
    # MQTT 3.1.1, 3.12 PINGREQ: C0 00; 3.2 CONNACK: 20 02 00 00; 2.2.3 Table 2.4: a
    # remaining length of 128 is 80 01, 16,384 is 80 80 01.
    ("mqtt", b"\xc0\x00", b"\xc0"),
    ("mqtt", b"\x20\x02\x00\x00", b"\x20\x00\x00"),
    ("mqtt", b"\x30\x80\x01" + b"p" * 128, b"\x30" + b"p" * 128),
    ("mqtt", b"\x30\x80\x80\x01" + b"p" * 16384, b"\x30" + b"p" * 16384),
    ("tpkt", RDP_X224_CONNECTION_REQUEST, b"\x03\x00" + RDP_X224_CONNECTION_REQUEST[4:]),
    # Modbus Application Protocol 6.3 example (read holding registers 108-110 of unit 17)
    # in an MBAP header (Messaging on TCP/IP Implementation Guide 3.1.3): transaction 1,
    # protocol 0, length 6 (unit id + PDU).
    (
        "modbus",
        bytes.fromhex("000100000006110300 6B0003".replace(" ", "")),
        bytes.fromhex("00010000110300 6B0003".replace(" ", "")),
    ),
    ("teltonika", TELTONIKA_CODEC8, TELTONIKA_CODEC8[:4] + TELTONIKA_CODEC8[8:]),
]


@pytest.mark.parametrize(("name", "wire", "frame"), CASES)
def test_preset_reads_the_documented_bytes(name: str, wire: bytes, frame: bytes) -> None:
    spec = PRESETS[name]
    assert FrameDecoder(spec).feed(wire + wire) == [frame, frame]
    decoder = FrameDecoder(spec)
    got = [f for i in range(len(wire)) for f in decoder.feed(wire[i : i + 1])]
    assert got == [frame]
    assert decoder.buffered_bytes == 0


@pytest.mark.parametrize(("name", "wire", "frame"), CASES)
def test_preset_writes_the_documented_bytes(name: str, wire: bytes, frame: bytes) -> None:
    assert encode_frame(frame, PRESETS[name]) == wire


def test_every_preset_has_a_note() -> None:
    assert set(PRESET_NOTES) == set(PRESETS)
