"""How a payload reads to a person: escaped one-line text, hex, a dump, and hex typed in.

The CLI's text output, the window's log and detail pane, and the saved text log all show
payloads through these functions, so a payload looks the same everywhere (sans-IO:
neither trio nor Qt).

``escape_text`` is the one-line form. Printable characters are shown as they are;
``\\`` becomes ``\\\\``, newline, carriage return and tab become ``\\n``, ``\\r``, ``\\t``,
and every other byte that is not printable becomes ``\\xNN`` (a non-printable character
beyond ASCII: each of its bytes), so the line always says which bytes were there. Characters
outside ASCII are shown only when the *whole* payload decodes in the encoding: binary
data that happens to hold a valid two-byte UTF-8 sequence (``de ad`` is U+07AD, a Thaana
letter) must not turn into a letter, so in a payload that is not text every non-ASCII
byte is ``\\xNN``.

``looks_like_text`` decides between text and hex where a view shows one of them (the
log's Data column): a payload is text when at least ``TEXT_SHARE`` of its bytes are
printable text, so a reply that is mostly text with a few binary bytes reads as text with
those bytes escaped.
"""

from __future__ import annotations

import codecs
import string

from ipc.text import decode_marked, decodes

__all__ = [
    "TEXT_SHARE",
    "HexError",
    "escape_text",
    "hex_dump",
    "looks_like_text",
    "parse_hex",
    "text_or_hex",
]

#: The share of text bytes from which ``looks_like_text`` says text.
TEXT_SHARE = 0.75

_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
#: Bytes that count as text in any payload: printable ASCII, tab, newline, return.
_TEXT_ASCII = _PRINTABLE_ASCII + b"\t\n\r"
_BYTE_ESCAPES = (
    {b: f"\\x{b:02x}" for b in range(256)}
    | {
        ord("\\"): "\\\\",
        ord("\n"): "\\n",
        ord("\r"): "\\r",
        ord("\t"): "\\t",
    }
    | {b: chr(b) for b in _PRINTABLE_ASCII if b != ord("\\")}
)
#: Escapes of decoded characters: newline, return, tab (the other controls and DEL
#: are escaped as their bytes).
_CHAR_ESCAPES = {ord(c): _BYTE_ESCAPES[ord(c)] for c in "\n\r\t"}
#: Encodings in which the printable ASCII bytes are those characters.
_ASCII_COMPATIBLE = frozenset({"utf-8", "latin-1", "ascii"})
_HEX_DIGITS = frozenset(string.hexdigits)
#: Separators accepted between hex bytes ("68 65", "68:65", "0x68,0x65").
_HEX_SEPARATORS = " \t\r\n,:-"


def escape_text(payload: bytes, encoding: str = "utf-8") -> str:
    """``payload`` as one line of text, everything that is not printable escaped.

    See the module docstring for the rules; the result never holds a control character
    or a newline, and tells apart every byte string (``\\`` is escaped too).
    """
    if encoding in _ASCII_COMPATIBLE:
        if not payload.translate(None, _PRINTABLE_ASCII):  # the common case
            text = payload.decode("ascii")
            return text.replace("\\", "\\\\") if "\\" in text else text
        if payload.isascii() or not decodes(payload, encoding):
            # ASCII stays readable, every other byte is \xNN: Python's own escaping of
            # bytes does exactly that, in C (it escapes the quote too, which we do not).
            return codecs.escape_encode(payload)[0].decode("ascii").replace("\\'", "'")
        text = payload.decode(encoding).replace("\\", "\\\\")
    else:
        # UTF-16, EBCDIC: the bytes that do not decode are marked (and \ escaped) there
        text = decode_marked(payload, encoding)
    if text.isprintable():
        return text
    # Controls and other non-printable characters: their bytes, so that \xNN always
    # means one byte of the payload (newline, return and tab as \n, \r, \t).
    return "".join(
        ch if ch.isprintable() else _CHAR_ESCAPES.get(ord(ch)) or _bytes_escaped(ch, encoding)
        for ch in text
    )


def _bytes_escaped(char: str, encoding: str) -> str:
    return "".join(_BYTE_ESCAPES[b] for b in char.encode(encoding))


def looks_like_text(payload: bytes, encoding: str = "utf-8") -> bool:
    """Whether ``payload`` reads better as text than as hex: ``TEXT_SHARE`` of it is text
    (printable characters, tab, newline, return; characters beyond ASCII count only in
    a payload that decodes whole). An empty payload is text."""
    if encoding not in _ASCII_COMPATIBLE:
        text = payload.decode(encoding, "replace")
        text_chars = sum(ch.isprintable() or ch in "\t\n\r" for ch in text if ch != "\ufffd")
        return text_chars >= TEXT_SHARE * len(text)
    binary = len(payload.translate(None, _TEXT_ASCII))
    if binary and not payload.isascii():
        try:
            payload.decode(encoding)
        except UnicodeDecodeError:
            pass
        else:  # valid text: its multi-byte characters are text, its controls are not
            binary = sum(map(payload.count, _NON_TEXT_ASCII))
    return binary <= (1 - TEXT_SHARE) * len(payload)


_NON_TEXT_ASCII = [bytes([b]) for b in range(0x80) if b not in _TEXT_ASCII]


def text_or_hex(payload: bytes, encoding: str = "utf-8") -> str:
    """``escape_text`` of ``payload`` if it ``looks_like_text``, else its hex bytes
    (``de ad be ef``): one line either way. The same as calling those, faster for the
    usual payloads (the saved log calls it a million times): one pass to find the bytes
    that are not printable ASCII, at most one decode."""
    if encoding not in _ASCII_COMPATIBLE:
        return _text_or_hex(payload, encoding)
    rest = payload.translate(None, _PRINTABLE_ASCII)
    if not rest:
        text = payload.decode("ascii")
        return text.replace("\\", "\\\\") if "\\" in text else text
    if not payload.isascii() and decodes(payload, encoding):
        return _text_or_hex(payload, encoding)  # beyond ASCII, valid: characters count
    # ASCII with controls, or not valid text: every byte in ``rest`` but tab, newline and
    # return is binary; shown as text, the other bytes are \xNN (Python's escaping, in C).
    if len(rest.translate(None, b"\t\n\r")) > (1 - TEXT_SHARE) * len(payload):
        return payload.hex(" ")
    return codecs.escape_encode(payload)[0].decode("ascii").replace("\\'", "'")


def _text_or_hex(payload: bytes, encoding: str) -> str:
    return (
        escape_text(payload, encoding) if looks_like_text(payload, encoding) else payload.hex(" ")
    )


def hex_dump(payload: bytes, width: int = 16) -> str:
    """Offset, hex and ASCII columns, ``width`` bytes a line (``hexdump -C``'s layout)."""
    lines = []
    for off in range(0, len(payload), width):
        chunk = payload[off : off + width]
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:08x}  {chunk.hex(' '):<{width * 3}} {ascii_}")
    return "\n".join(lines)


class HexError(ValueError):
    """Text that is not a whole number of hex bytes (the message says where)."""


def parse_hex(text: str) -> bytes:
    """Hex as people type it: pairs of digits, optionally ``0x``-prefixed, separated by
    spaces, commas, colons or dashes (``68 65 6c``, ``0x68,0x65``, ``68656c``).

    Raises:
        HexError: naming the 1-based column of the first bad character, or saying that
            the number of digits is odd (and where).
    """
    digits: list[str] = []
    group_start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _HEX_SEPARATORS:
            if (len(digits) - group_start) % 2:
                raise HexError(f"odd number of hex digits before column {i + 1}")
            group_start = len(digits)
            i += 1
            continue
        if ch == "0" and text[i + 1 : i + 2] in ("x", "X") and len(digits) == group_start:
            i += 2
            continue
        if ch not in _HEX_DIGITS:
            raise HexError(f"{ch!r} at column {i + 1} is not a hex digit")
        digits.append(ch)
        i += 1
    if len(digits) % 2:
        raise HexError(f"odd number of hex digits ({len(digits)}): each byte is two digits")
    return bytes.fromhex("".join(digits))
