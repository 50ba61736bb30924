"""The demo server over real loopback sockets, its control frames, and its CLI process."""

from __future__ import annotations

import functools
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from decoders import decode, decoder_for, to_plain
from ipc.errors import FrameTooLarge, LocalProtocolError, TruncatedFrame
from ipc.framing import PRESETS, FrameDecoder, FramingSpec, encode_frame, encode_frames
from tests.process_tree import zombie_children
from tools.demo_server import (
    CLASSIC_REPLY_PREFIX,
    STOP_GRACE_SECONDS,
    DemoServerError,
    parse_listening_line,
    sequence_frames,
    serve_demo,
    serve_demo_connection,
    spawn_demo_server,
    start_demo_server,
)
from tools.supervision import stop_process

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 10


class Client:
    """A framed loopback client: the test's side of one connection."""

    def __init__(self, stream: trio.SocketStream, spec: FramingSpec) -> None:
        self.stream = stream
        self.decoder = FrameDecoder(spec)
        self.spec = spec

    async def send(self, *payloads: bytes) -> None:
        await self.stream.send_all(encode_frames(payloads, self.spec))

    async def receive(self, count: int) -> list[bytes]:
        """Receive exactly ``count`` frames (fails if the server closes first)."""
        frames: list[bytes] = []
        while len(frames) < count:
            data = await self.stream.receive_some(1 << 20)
            assert data, f"server closed after {len(frames)} of {count} frames"
            frames += self.decoder.feed(data)
        assert len(frames) == count
        return frames

    async def receive_until_eof(self) -> list[bytes]:
        frames: list[bytes] = []
        while data := await self.stream.receive_some(1 << 20):
            frames += self.decoder.feed(data)
        frames += self.decoder.feed(b"")
        return frames


async def start_server(nursery: trio.Nursery, **options: object) -> int:
    return await nursery.start(functools.partial(serve_demo, **options))


async def connect(port: int, spec: FramingSpec = PRESETS["le32"]) -> Client:
    return Client(await trio.open_tcp_stream("127.0.0.1", port), spec)


def sequence_number(payload: bytes) -> int:
    return int.from_bytes(payload[:8], "big")


async def test_echo_answers_every_frame_in_order_across_split_writes(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        wire = encode_frames([b"a", b"", b"b" * 100_000])
        for i in range(0, len(wire), 777):
            await client.stream.send_all(wire[i : i + 777])
        assert await client.receive(3) == [b"a", b"", b"b" * 100_000]


async def test_classic_mode_greets_hello_like_the_original_sample(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery, mode="classic"))
        await client.send(b"hello")
        assert await client.receive(1) == [b"hello, client! you said: hello"]
        assert CLASSIC_REPLY_PREFIX + b"hello" == b"hello, client! you said: hello"


async def test_classic_reply_too_long_for_the_framing_becomes_an_error_frame(nursery):
    spec = PRESETS["u8"]  # 255 bytes at most: the greeting plus 240 bytes does not fit
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery, mode="classic", framing=spec), spec)
        await client.send(b"a" * 240, b"hello")
        error, reply = await client.receive(2)
        assert error.startswith(b"!error reply would exceed")
        assert reply == b"hello, client! you said: hello"


async def test_stream_option_sends_numbered_frames_on_connect_then_echoes(nursery):
    spec = PRESETS["be16"]
    with trio.fail_after(TIMEOUT):
        port = await start_server(nursery, framing=spec, stream=1000, size=16)
        client = await connect(port, spec)
        frames = await client.receive(1000)
        assert [sequence_number(f) for f in frames] == list(range(1000))
        assert all(f[8:] == b"x" * 8 for f in frames)
        await client.send(b"still there?")
        assert await client.receive(1) == [b"still there?"]


async def test_stream_control_frame_streams_to_that_connection_only(nursery):
    with trio.fail_after(TIMEOUT):
        port = await start_server(nursery)
        streamed, bystander = await connect(port), await connect(port)
        await streamed.send(b"before", b"!stream 600 8", b"after")
        frames = await streamed.receive(602)
        assert frames[0] == b"before"
        assert frames[-1] == b"after"
        assert [sequence_number(f) for f in frames[1:-1]] == list(range(600))
        await bystander.send(b"ping")
        assert await bystander.receive(1) == [b"ping"]


@pytest.mark.parametrize("request_", [b"!stream lots", b"!stream 5 4", b"!stream 1 2 3"])
async def test_malformed_stream_request_is_answered_with_an_error_frame(nursery, request_):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        await client.send(request_, b"next")
        error, echoed = await client.receive(2)
        assert error.startswith(b"!error bad !stream request")
        assert echoed == b"next"


async def test_samples_control_frame_answers_in_every_structured_format(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery, mode="classic"))
        await client.send(b"!samples", b"!samples 1500 msgpack", b"hello")
        frames = await client.receive(5 + 1500 + 1)
    chosen = [decode(frame).decoder for frame in frames[:5]]
    assert chosen == ["json", "msgpack", "cbor", "protobuf", "hex"]  # the layout is binary
    layout = decoder_for(layout="tools/demo_layout.py:MESSAGE")
    assert to_plain(decode(frames[4], layout).root)["seq"] == 4
    numbered = [to_plain(decode(frame, "msgpack").root) for frame in frames[5:-1]]
    assert [value["seq"] for value in numbered] == list(range(1500))  # type: ignore[index]
    assert frames[-1] == b"hello, client! you said: hello"


@pytest.mark.parametrize("request_", [b"!samples many", b"!samples 2 yaml", b"!samples 1 json x"])
async def test_malformed_samples_request_is_answered_with_an_error_frame(nursery, request_):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        await client.send(request_)
        (error,) = await client.receive(1)
        assert error.startswith(b"!error bad !samples request")


async def test_close_control_frame_flushes_replies_then_closes(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        await client.send(b"one", b"two", b"!close", b"never answered")
        assert await client.receive_until_eof() == [b"one", b"two"]


async def test_reset_control_frame_resets_the_connection(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        await client.send(b"!reset")
        with pytest.raises(trio.BrokenResourceError) as info:
            await client.stream.receive_some(1024)
        assert isinstance(info.value.__cause__, ConnectionResetError)


@pytest.mark.parametrize(
    "spec",
    [
        PRESETS["le32"],
        PRESETS["le64"],
        FramingSpec(length_size=2, byte_order="big", max_frame_length=1000),
        FramingSpec(length_size=1, length_includes_header=True, max_frame_length=100),
    ],
    ids=["le32", "le64", "be16-max1000", "u8-with-header-max100"],
)
async def test_oversize_control_frame_announces_a_frame_over_the_maximum(nursery, spec):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery, framing=spec), spec)
        await client.send(b"!oversize")
        with pytest.raises(FrameTooLarge):
            await client.receive(1)


async def test_oversize_control_frame_explains_when_the_field_cannot_exceed_the_maximum(nursery):
    spec = PRESETS["be16"]  # a 2-byte field cannot announce more than its 65535-byte maximum
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery, framing=spec), spec)
        await client.send(b"!oversize")
        [reply] = await client.receive(1)
        assert reply.startswith(b"!error")


async def test_truncate_control_frame_ends_the_stream_mid_frame(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        await client.send(b"!truncate")
        with pytest.raises(TruncatedFrame):
            await client.receive_until_eof()


async def test_bad_frame_from_a_client_closes_only_that_client(nursery):
    with trio.fail_after(TIMEOUT):
        port = await start_server(nursery)
        bad, good = await connect(port), await connect(port)
        await bad.stream.send_all(b"\xff\xff\xff\xff")  # 4 GiB announced, over the max
        assert await bad.receive_until_eof() == []
        await good.send(b"unaffected")
        assert await good.receive(1) == [b"unaffected"]


async def flood_until_blocked(client: Client, limit: int) -> int:
    """Send frames until the server stops reading (or ``limit`` bytes); return bytes sent."""
    sent = 0
    chunk = encode_frame(b"f" * 65536)

    async def flood() -> None:
        nonlocal sent
        while sent < limit:
            await client.stream.send_all(chunk)
            sent += len(chunk)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(flood)
        await trio.testing.wait_all_tasks_blocked(cushion=0.01)
        nursery.cancel_scope.cancel()
    return sent


LIMIT = 256 * 1024 * 1024


def bytes_waiting(client: Client) -> bool:
    """Whether the kernel holds received bytes for ``client`` (peeked, not consumed)."""
    with socket.fromfd(client.stream.socket.fileno(), socket.AF_INET, socket.SOCK_STREAM) as dup:
        try:
            return bool(dup.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK))
        except BlockingIOError:
            return False


@pytest.mark.parametrize("how", ["option", "control frame"])
async def test_stall_never_reads_nor_replies(nursery, how):
    with trio.fail_after(TIMEOUT):
        port = await start_server(nursery, stall=how == "option")
        client = await connect(port)
        if how == "control frame":
            await client.send(b"!stall")
        await client.send(b"ping")
        sent = await flood_until_blocked(client, LIMIT)
        assert sent < LIMIT  # the flood blocked: nobody is reading
        assert not bytes_waiting(client)  # and nothing ever came back


async def test_echo_stops_reading_while_its_client_does_not_read(nursery):
    with trio.fail_after(TIMEOUT):
        client = await connect(await start_server(nursery))
        sent = await flood_until_blocked(client, LIMIT)
        assert sent < LIMIT  # back-pressure reached us: the server did not buffer it all


async def test_delay_postpones_each_reply(autojump_clock):
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client = Client(client_stream, PRESETS["le32"])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            functools.partial(
                serve_demo_connection, server_stream, framing=PRESETS["le32"], delay=5.0
            )
        )
        start = trio.current_time()
        await client.send(b"a", b"b")
        assert await client.receive(1) == [b"a"]
        assert trio.current_time() - start == pytest.approx(5.0)
        assert await client.receive(1) == [b"b"]
        assert trio.current_time() - start == pytest.approx(10.0)
        await client_stream.aclose()


@pytest.mark.parametrize(
    ("count", "size", "start"), [(70_000, 9, 100), (300, 40_000, 200), (3, 300_000, 255)]
)
def test_sequence_frames_number_every_frame_whatever_the_batching(count, size, start):
    decoder = FrameDecoder(PRESETS["be32"])
    frames: list[bytes] = []
    for chunk in sequence_frames(count, size, PRESETS["be32"], start=start):
        frames += decoder.feed(chunk)
    assert [sequence_number(f) for f in frames] == list(range(start, start + count))
    assert {len(f) for f in frames} == {size}


def test_sequence_frames_refuse_a_size_without_room_for_the_number():
    with pytest.raises(LocalProtocolError):
        next(sequence_frames(1, 7, PRESETS["le32"]))


async def test_serve_demo_refuses_a_non_loopback_host():
    with pytest.raises(ValueError, match="loopback"):
        await serve_demo(host="0.0.0.0")


async def test_serve_demo_refuses_a_stream_size_the_framing_cannot_carry():
    with pytest.raises(ValueError, match="size"):
        await serve_demo(stream=1, size=300, framing=PRESETS["u8"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--host", "0.0.0.0"], "loopback"),
        (["--stream", "5", "--size", "300", "--framing", "u8"], "does not fit"),
        (["--stream", "5", "--size", "4"], "--size >= 8"),
    ],
)
def test_cli_refuses_bad_options_with_a_usage_error(arguments, message):
    result = subprocess.run(
        [sys.executable, "-m", "tools.demo_server", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert message in result.stderr


async def read_line(stream: trio.abc.ReceiveStream) -> str:
    line = b""
    while not line.endswith(b"\n"):
        data = await stream.receive_some(1)
        assert data, f"process closed stdout after {line!r}"
        line += data
    return line.decode()


async def test_cli_process_prints_its_port_serves_and_exits_cleanly_on_sigterm():
    command = [sys.executable, "-m", "tools.demo_server", "--port", "0"]
    command += ["--mode", "classic", "--framing", "be32"]
    process = await trio.lowlevel.open_process(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with trio.fail_after(TIMEOUT):
            host, port = parse_listening_line(await read_line(process.stdout))
            assert (host, port > 0) == ("127.0.0.1", True)
            client = await connect(port, PRESETS["be32"])
            await client.send(b"hello")
            assert await client.receive(1) == [b"hello, client! you said: hello"]
            await client.stream.aclose()
            process.terminate()
            assert await process.wait() == 0
            stderr = await process.stderr.receive_some(1 << 16)
            assert b"connected" in stderr
            assert b"SIGTERM received, stopping" in stderr
    finally:
        process.kill()
        await process.wait()


def test_spawn_demo_server_yields_where_it_listens_and_stops_it_on_exit():
    spec = PRESETS["le32"]
    with (
        spawn_demo_server("--mode", "classic", stderr=subprocess.DEVNULL) as (host, port),
        socket.create_connection((host, port), timeout=TIMEOUT) as conn,
    ):
        conn.sendall(encode_frame(b"hello", spec))
        decoder = FrameDecoder(spec)
        frames: list[bytes] = []
        while not frames:
            frames = decoder.feed(conn.recv(4096))
        assert frames == [CLASSIC_REPLY_PREFIX + b"hello"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=TIMEOUT)


def test_demo_server_that_exits_before_listening_is_a_clear_error():
    zombies = zombie_children()
    with (
        pytest.raises(DemoServerError, match="the demo server exited with code 2"),
        spawn_demo_server("--framing", "not-a-preset", stderr=subprocess.DEVNULL),
    ):
        pytest.fail("the body ran without a server")
    assert zombie_children() == zombies


def test_a_niced_demo_server_runs_that_much_nicer_than_its_parent():
    server = start_demo_server(niceness=3, stderr=subprocess.DEVNULL)
    try:
        assert os.getpriority(os.PRIO_PROCESS, server.process.pid) == os.nice(0) + 3
    finally:
        assert stop_process(server.process, STOP_GRACE_SECONDS) == 0


def test_tls_prints_the_ca_path_that_a_verifying_client_trusts() -> None:
    server = start_demo_server("--tls", stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert server.process.stderr is not None
        said = server.process.stderr.readline().decode()  # logged before it listens
        found = re.search(r"trust it with --cafile (\S+)$", said.strip())
        assert found is not None, said
        ca = Path(found.group(1))
        context = ssl.create_default_context(cafile=str(ca))  # verify, host name checked
        with (
            socket.create_connection((server.host, server.port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == "TLSv1.3"
            tls.sendall(struct.pack("<I", 5) + b"hello")
            reply = b""
            while len(reply) < 9:
                chunk = tls.recv(64)
                assert chunk, reply
                reply += chunk
            assert reply == struct.pack("<I", 5) + b"hello"  # echo mode
    finally:
        stop_process(server.process, STOP_GRACE_SECONDS)
        if server.process.stderr is not None:
            server.process.stderr.close()
    assert not ca.parent.exists()  # the throwaway CA's folder is removed at exit
