"""Payloads as text in a session's encoding, and text back to bytes (sans-IO).

A session shows and composes text in one of ``ENCODINGS``: UTF-8 (the default), UTF-16
in either byte order, Latin-1 or EBCDIC (cp037, IBM mainframes and AS/400 hosts). Bytes
that do not decode are *marked*, never dropped or replaced by a lookalike: each becomes
``\\xNN`` and a literal backslash becomes ``\\\\``, so the text shown always tells which
bytes were there. Encoding text the encoding cannot write is an error naming the
character and its column.
"""

from __future__ import annotations

import codecs

__all__ = [
    "DEFAULT_ENCODING",
    "ENCODINGS",
    "TextEncodingError",
    "check_encoding",
    "decode_counting",
    "decode_marked",
    "decodes",
    "encode_text",
]

#: Encoding names (Python's codec names) and what the GUI calls them.
ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "latin-1": "Latin-1",
    "cp037": "EBCDIC (cp037)",
}

DEFAULT_ENCODING = "utf-8"


class TextEncodingError(ValueError):
    """Text that the session's encoding cannot write, or an unknown encoding."""


def check_encoding(name: str) -> str:
    """``name`` if it is one of ``ENCODINGS`` (case and ``_``/``-`` are forgiven).

    Raises:
        TextEncodingError: naming the known encodings.
    """
    normal = name.strip().lower().replace("_", "-")
    aliases = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1", "ebcdic": "cp037"}
    normal = aliases.get(normal, normal)
    if normal not in ENCODINGS:
        raise TextEncodingError(f"unknown text encoding {name!r} (known: {', '.join(ENCODINGS)})")
    return normal


def decodes(payload: bytes, encoding: str = DEFAULT_ENCODING) -> bool:
    """Whether every byte of ``payload`` decodes in ``encoding``."""
    try:
        payload.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _mark(error: UnicodeError) -> tuple[str, int]:
    # Each bad byte becomes a lone surrogate U+DC00 + byte, which no successful decode
    # yields; decode_marked turns them into \xNN after escaping real backslashes.
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), error.end


codecs.register_error("framewire-mark", _mark)

_UNMARK = {0xDC00 + byte: f"\\x{byte:02x}" for byte in range(256)} | {ord("\\"): "\\\\"}


def decode_counting(payload: bytes, encoding: str = DEFAULT_ENCODING) -> tuple[str, int]:
    """``decode_marked``, and how many bytes did not decode."""
    raw = payload.decode(encoding, "framewire-mark")
    bad = sum(1 for ch in raw if "\udc00" <= ch <= "\udcff")
    return raw.translate(_UNMARK), bad


def decode_marked(payload: bytes, encoding: str = DEFAULT_ENCODING) -> str:
    """``payload`` as text, each undecodable byte as ``\\xNN`` and ``\\`` as ``\\\\``.

    The result holds no lone surrogates, so it can be shown and saved as UTF-8. Control
    characters are left as they are: how to show them is the renderer's choice.
    """
    return payload.decode(encoding, "framewire-mark").translate(_UNMARK)


def encode_text(text: str, encoding: str = DEFAULT_ENCODING) -> bytes:
    """``text`` as bytes in ``encoding``.

    Raises:
        TextEncodingError: a character the encoding cannot write (named, with its column).
    """
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        raise TextEncodingError(
            f"{char!r} (U+{ord(char):04X}) at column {exc.start + 1} cannot be written in "
            f"{ENCODINGS.get(encoding, encoding)}"
        ) from None
