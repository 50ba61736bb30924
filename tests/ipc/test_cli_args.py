"""The command-line values the engine CLI, the GUI and the launcher share."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from ipc.cli_args import (
    format_address,
    host_port,
    parse_host_port,
    parse_listen_address,
    positive,
    writable_file,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:65535", ("::1", 65535)),
    ],
)
def test_parse_host_port_accepts(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "expected HOST:PORT"),
        (":9000", "expected HOST:PORT"),
        ("127.0.0.1:0", "1..65535"),
        ("127.0.0.1:65536", "1..65535"),
        ("127.0.0.1:http", "1..65535"),
        ("::1:9000", "in brackets"),
        ("[::1:9000", "expected [IPV6]:PORT"),
        ("[nope]:9000", "not an IPv6 address"),
        ("a b:9000", "bad host"),
    ],
)
def test_parse_host_port_refuses_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_host_port(text)


def test_host_port_is_an_argparse_type_and_format_address_inverts_it() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected HOST:PORT"):
        host_port("nowhere")
    for text in ("127.0.0.1:9000", "[::1]:80"):
        assert format_address(*host_port(text)) == text


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon"])
def test_positive_refuses_what_is_not_a_finite_positive_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive number of seconds"):
        positive(float, "number of seconds")(text)


def test_positive_keeps_the_kind() -> None:
    assert positive(int, "whole number")("3") == 3
    with pytest.raises(argparse.ArgumentTypeError):
        positive(int, "whole number")("2.5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", ("127.0.0.1", 0)),
        ("9000", ("127.0.0.1", 9000)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_a_listen_address_is_loopback_unless_a_host_is_named(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("70000", "port must be a number in 0..65535"),
        ("[::1]:99999", "port must be a number in 0..65535"),
        (":5", "expected [HOST:]PORT"),
        ("::1:5", "write an IPv6 address in brackets, as [::1]:5"),
        ("a b:1", "bad host"),
    ],
)
def test_a_bad_listen_address_says_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_listen_address(text)


def test_writable_file_refuses_directories_and_missing_ones(tmp_path: Path) -> None:
    assert writable_file(str(tmp_path / "new.log")) == str(tmp_path / "new.log")
    for path, words in [
        (str(tmp_path), "is a directory"),
        (str(tmp_path / "missing" / "x.log"), "which does not exist"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=words):
            writable_file(path)
    assert not (tmp_path / "new.log").exists()  # checked, not created
