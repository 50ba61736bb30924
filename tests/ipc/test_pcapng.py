"""pcapng export: scapy (an independent reader) finds the TCP stream, with correct
checksums, the frames' wire bytes, and the handshake and FIN around them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.utils import rdpcap

from ipc.framing import PRESETS, encode_frame
from ipc.pcapng import MAX_SEGMENT, export_pcapng
from ipc.recording import EventRecord, FrameRecord


def read_back(tmp_path: Path, records: list[FrameRecord | EventRecord]) -> list[Any]:
    out = io.BytesIO()
    count = export_pcapng(records, out)
    path = tmp_path / "capture.pcapng"
    path.write_bytes(out.getvalue())
    packets = list(rdpcap(str(path)))
    assert len(packets) == count
    return packets


def test_a_session_becomes_a_tcp_stream_wireshark_can_follow(tmp_path: Path) -> None:
    peer, local = "127.0.0.1:5432", "127.0.0.1:40001"
    records: list[FrameRecord | EventRecord] = [
        EventRecord(t=100.0, session=1, event="open", peer=peer, local=local),
        FrameRecord(t=100.5, session=1, dir="out", payload=b"QSELECT 1\x00", peer=peer,
                    local=local, framing="pg"),
        FrameRecord(t=100.75, session=1, dir="in", payload=b"ZI", peer=peer, local=local,
                    framing="pg"),
        EventRecord(t=101.0, session=1, event="close", peer=peer, local=local),
    ]  # fmt: skip
    packets = read_back(tmp_path, records)
    flags = [str(p[TCP].flags) for p in packets]
    assert flags == ["S", "SA", "A", "PA", "PA", "FA", "FA", "A"]
    query, reply = packets[3], packets[4]
    assert (query[IP].src, query[TCP].sport, query[IP].dst, query[TCP].dport) == (
        "127.0.0.1", 40001, "127.0.0.1", 5432,
    )  # fmt: skip
    assert bytes(query[TCP].payload) == encode_frame(b"QSELECT 1\x00", PRESETS["pg"])
    assert bytes(reply[TCP].payload) == b"Z\x00\x00\x00\x05I"
    assert reply[TCP].seq == packets[1][TCP].seq + 1
    assert reply[TCP].ack == query[TCP].seq + len(query[TCP].payload)
    assert float(query.time) == 100.5
    for packet in packets:  # checksums as scapy computes them afresh
        stored_ip, stored_tcp = packet[IP].chksum, packet[TCP].chksum
        fresh = IP(bytes(packet[IP]))
        del fresh[IP].chksum, fresh[TCP].chksum
        fresh = IP(bytes(fresh))
        assert (fresh[IP].chksum, fresh[TCP].chksum) == (stored_ip, stored_tcp)


def test_ipv6_and_large_frames_are_split_into_segments(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 600  # 153,600 bytes
    record = FrameRecord(t=5.0, session=7, dir="in", payload=payload, peer="[::1]:9000")
    packets = read_back(tmp_path, [record])
    data = [p for p in packets if len(p[TCP].payload)]
    assert all(IPv6 in p for p in packets)
    assert [len(p[TCP].payload) for p in data] == [
        MAX_SEGMENT,
        MAX_SEGMENT,
        153_604 - 2 * MAX_SEGMENT,
    ]
    assert b"".join(bytes(p[TCP].payload) for p in data) == encode_frame(payload)
    fresh = IPv6(bytes(data[0][IPv6]))
    stored = fresh[TCP].chksum
    del fresh[TCP].chksum
    assert IPv6(bytes(fresh))[TCP].chksum == stored
