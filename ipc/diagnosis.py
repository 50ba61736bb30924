"""Say what unexpected bytes look like: another framing, text, a banner, TLS (sans-IO).

Most first failures with a length-prefixed tool are a wrong framing or the wrong kind of
server. When a header is over the maximum, a connection ends without a whole frame, or
nothing comes back, ``diagnose`` looks at the bytes seen (and at what was sent) and says
what they are, in one sentence the CLI, the IPC ``session_error``/``closed`` events and
the GUI all show:

* a plausible framing: ``guess_framing`` ranks the presets (and the framing in use) by
  how well they parse the bytes into whole frames ("as be32, these 38 bytes are 1 whole
  frame");
* text: an HTTP response or request line, an SSH/SMTP/FTP/POP3/IMAP banner, JSON, plain
  text ("the server answered with an HTTP/1.1 response ...");
* a TLS record (``16 03 ..``);
* nothing received: how a server of the other byte order reads the header we sent,
  when the bytes sent read better in that order (``guess_framing``'s ranking).

Pure functions of bytes; no I/O, neither trio nor Qt. The engine, the CLI and the GUI
call these; nobody re-implements them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ipc.errors import RemoteProtocolError
from ipc.framing import (
    DEFAULT_MAX_FRAME_LENGTH,
    PRESETS,
    FrameDecoder,
    FramingSpec,
    describe,
    parse_framing,
)

__all__ = [
    "Diagnosis",
    "Guess",
    "Situation",
    "diagnose",
    "guess_framing",
    "looks_like",
]

#: What went wrong when the diagnosis was asked for.
Situation = Literal[
    "frame_too_large",  # a length over the maximum (or below the header)
    "truncated",  # the peer closed in the middle of a frame
    "closed_early",  # the peer closed before a whole frame arrived
    "no_reply",  # nothing came back in time
    "leftover",  # the session ended without an error after receiving bytes
]

Kind = Literal["framing", "tls", "http", "ssh", "banner", "json", "text", "nothing"]

#: Characters of a peer's text line quoted in a diagnosis.
_SHOWN_TEXT = 60


@dataclass(frozen=True, slots=True)
class Guess:
    """How one framing parses some bytes."""

    spec: FramingSpec
    #: Whole frames, and how many of them are empty.
    frames: int
    empty: int
    #: Bytes in whole frames, and bytes looked at.
    consumed: int
    total: int

    @property
    def name(self) -> str:
        return describe(self.spec)

    @property
    def exact(self) -> bool:
        """Every byte belongs to a whole frame."""
        return self.consumed == self.total

    def sentence(self) -> str:
        """``as be32, these 38 bytes are 1 whole frame (and the start of another)``."""
        whole = f"{self.frames} whole frame{'' if self.frames == 1 else 's'}"
        if self.empty:
            whole += f" ({self.empty} empty)"
        rest = self.total - self.consumed
        tail = "" if self.exact else f" and {rest} byte{'' if rest == 1 else 's'} of the next"
        return f"as {self.name}, these {self.total} bytes are {whole}{tail}"

    def _rank(self) -> tuple[int, int, int, int, int]:
        return (
            int(self.frames > self.empty),
            -self.empty,
            int(self.exact),
            self.consumed,
            -self.frames,
        )


def guess_framing(
    data: bytes,
    candidates: Iterable[FramingSpec] | None = None,
    *,
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
) -> list[Guess]:
    """Rank framings by how well they parse ``data`` into whole frames, best first.

    ``candidates`` defaults to every preset with ``max_frame_length``. A framing that hits
    an error (a length over the maximum, below its header) or finds no whole frame is
    left out. Ranking: some non-empty frame first, then fewer empty frames (zeros parse
    as empty frames in any framing), then every byte explained, then more bytes explained,
    then fewer frames (a long frame is less of a coincidence than several short ones),
    then the candidates' order (the presets' order: simple framings first).
    """
    if candidates is None:
        candidates = [_with_max(spec, max_frame_length) for spec in PRESETS.values()]
    guesses: list[Guess] = []
    seen: set[FramingSpec] = set()
    for spec in candidates:
        if spec in seen:
            continue
        seen.add(spec)
        guess = _parse(data, spec)
        if guess is not None:
            guesses.append(guess)
    # sorted() is stable: equal ranks keep the candidates' order.
    return sorted(guesses, key=Guess._rank, reverse=True)


def _with_max(spec: FramingSpec, max_frame_length: int) -> FramingSpec:
    if spec.max_frame_length == max_frame_length:
        return spec
    return FramingSpec(**{**spec.to_wire(), "max_frame_length": max_frame_length})


def _parse(data: bytes, spec: FramingSpec) -> Guess | None:
    decoder = FrameDecoder(spec)
    try:
        frames = decoder.feed(data)
    except RemoteProtocolError:
        return None
    if not frames or decoder.failed:
        return None
    leftover = decoder.unfinished_bytes
    # Nothing after the prefix counts as empty too (an MQTT packet of a type byte alone):
    # runs of zeros parse as such frames in any framing.
    least = spec.length_offset if spec.strip is None else 0
    return Guess(
        spec=spec,
        frames=len(frames),
        empty=sum(1 for frame in frames if len(frame) <= least),
        consumed=len(data) - leftover,
        total=len(data),
    )


# ----------------------------------------------------------------------- what it looks like

_HTTP_REQUEST = re.compile(
    rb"^(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP/\d(\.\d)?\r?$"
)
_BANNERS: list[tuple[bytes, str, str]] = [
    # (prefix, what it is, what the server speaks)
    (b"+OK", "a POP3 greeting", "POP3"),
    (b"* OK", "an IMAP greeting", "IMAP"),
    (b"RFB ", "a VNC (RFB) greeting", "VNC"),
    (b"-ERR", "a Redis error reply", "RESP (Redis)"),
]
_TLS_RECORDS = {0x14: "change-cipher-spec", 0x15: "alert", 0x16: "handshake", 0x17: "data"}


def looks_like(data: bytes) -> tuple[Kind, str] | None:
    """What ``data`` (the first bytes from a peer) is, if it is something recognisable.

    Returns a kind and a sentence (no advice on framings: that is ``guess_framing``'s).
    """
    if len(data) >= 3 and data[0] in _TLS_RECORDS and data[1] == 3 and data[2] <= 4:
        what = _TLS_RECORDS[data[0]]
        return "tls", f"the peer speaks TLS (a TLS {what} record, {data[:3].hex(' ')} …)"
    line = _first_line(data)
    shown = _show(line)
    if line.startswith(b"HTTP/"):
        version = line.split(b" ", 1)[0].decode("ascii", "replace")
        return "http", (
            f"the peer answered with an {version} response ({shown}): it speaks HTTP, not a "
            "length-prefixed protocol"
        )
    if line.startswith(b"PRI * HTTP/2.0") or _HTTP_REQUEST.match(line):
        return "http", f"the peer sent an HTTP request ({shown}): it speaks HTTP"
    if line.startswith(b"SSH-"):
        return "ssh", f"the peer sent an SSH banner ({shown}): it speaks SSH"
    if re.match(rb"^220[ -]", line):
        upper = line.upper()
        what = "SMTP" if b"SMTP" in upper else "FTP" if b"FTP" in upper else "SMTP or FTP"
        return "banner", f"the peer sent a {what} greeting ({shown}): it speaks {what}"
    for prefix, what, speaks in _BANNERS:
        if line.startswith(prefix):
            return "banner", f"the peer sent {what} ({shown}): it speaks {speaks}"
    text = _as_text(data)
    if text is None:
        return None
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and _json_like(stripped):
        return "json", f"the peer sent JSON text ({shown}), not length-prefixed frames"
    return "text", f"the peer sent text ({shown}), not length-prefixed frames"


def _first_line(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0].rstrip(b"\r")


def _show(line: bytes) -> str:
    text = line[:_SHOWN_TEXT].decode("utf-8", "backslashreplace")
    text = text.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return f"'{text}{'…' if len(line) > _SHOWN_TEXT else ''}'"


def _as_text(data: bytes) -> str | None:
    """``data`` as text if it is (nearly all) printable UTF-8; a cut last character is fine."""
    for cut in range(4):
        try:
            text = data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not text:
            return None
        printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
        return text if "\x00" not in text and printable >= 0.95 * len(text) else None
    return None


def _json_like(text: str) -> bool:
    import json  # only text that looks like a document pays for it (CLI start-up)

    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        # A head cut in the middle of a document is still JSON so far.
        return exc.pos >= len(text.rstrip()) - 1 and exc.pos > 1
    return True


# ----------------------------------------------------------------------------- diagnose


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What the bytes look like, in one sentence, and a framing to try if there is one.

    ``summary`` speaks of framings by name (``be32``); how to choose one is the caller's
    to say (``--framing be32`` in the CLI, the Framing box in the GUI).
    """

    kind: Kind
    summary: str
    #: A framing to try, in ``parse_framing`` form (a preset name when one fits).
    suggestion: str | None = None
    #: Other framings that parse the bytes too, best first.
    also: tuple[str, ...] = ()
    #: The bytes looked at (the stream's first bytes).
    head: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        """The map carried by ``session_error.details["diagnosis"]`` and ``closed.diagnosis``."""
        return {
            "kind": self.kind,
            "summary": self.summary,
            "suggestion": self.suggestion,
            "also": list(self.also),
            "head": self.head,
        }

    @classmethod
    def from_wire(cls, value: object) -> Diagnosis | None:
        """The diagnosis in an event's map, or None if there is none (or it is malformed)."""
        if not isinstance(value, dict):
            return None
        kind, summary = value.get("kind"), value.get("summary")
        suggestion, also, head = value.get("suggestion"), value.get("also", []), value.get("head")
        if not isinstance(kind, str) or not isinstance(summary, str):
            return None
        if suggestion is not None and not isinstance(suggestion, str):
            suggestion = None
        return cls(
            kind=kind,  # type: ignore[arg-type]
            summary=summary,
            suggestion=suggestion,
            also=tuple(a for a in also if isinstance(a, str)) if isinstance(also, list) else (),
            head=head if isinstance(head, bytes) else b"",
        )

    def suggested_spec(self) -> FramingSpec | None:
        if self.suggestion is None:
            return None
        try:
            return parse_framing(self.suggestion)
        except ValueError:
            return None


def diagnose(
    situation: Situation,
    spec: FramingSpec,
    *,
    received: bytes = b"",
    sent: bytes = b"",
) -> Diagnosis | None:
    """Say what went wrong with ``spec``, from the first bytes ``received`` and ``sent``.

    ``received`` and ``sent`` are the first bytes of each direction on the wire (headers
    included). Returns None when there is nothing useful to say (the bytes fit ``spec``
    and are nothing recognisable).
    """
    if received:
        current = _parse(received, spec)
        if situation == "leftover" and current is not None and _fits(current):
            return None  # no error, and the framing in use reads the bytes well
        seen = looks_like(received)
        if seen is not None:
            return Diagnosis(kind=seen[0], summary=seen[1], head=received)
        guesses = guess_framing(received, max_frame_length=spec.max_frame_length)
        # Keep the framing in use in the ranking, so a better one is named only if it is;
        # and name one only if it reads the bytes well: a few bytes that leave a piece of
        # a frame, or frames that are empty, are a coincidence any framing meets.
        if (
            guesses
            and _fits(guesses[0])
            and (current is None or guesses[0]._rank() > current._rank())
        ):
            best = guesses[0]
            if best.spec != spec:
                also = tuple(g.name for g in guesses[1:4] if g._rank() == best._rank())
                summary = best.sentence()
                if also:
                    fit = "fits" if len(also) == 1 else "fit"
                    summary += f" ({' and '.join(also)} {fit} them too)"
                return Diagnosis(
                    kind="framing",
                    summary=summary,
                    suggestion=best.name,
                    also=also,
                    head=received,
                )
        return None
    if situation in ("closed_early", "no_reply") and sent:
        return _nothing_back(situation, spec, sent)
    return None


def _fits(guess: Guess) -> bool:
    """No empty frame, and every byte explained (or the bytes are a cut head)."""
    return not guess.empty and (guess.exact or guess.total >= FrameDecoder.HEAD_BYTES)


def _nothing_back(situation: Situation, spec: FramingSpec, sent: bytes) -> Diagnosis | None:
    """Nothing came back: how a server of the other byte order reads the header we sent,
    if the bytes sent read better in that order.

    Frames this side encoded read best in its own framing, so a peer that closes after a
    short frame (on purpose, or one of the other byte order that took the header as a
    huge length: the bytes cannot tell) is not told to switch; bytes written as they came
    (a relay's) may read better in the other order, and then it is named.
    """
    if situation == "closed_early":
        what = "the peer closed without sending anything"
    else:
        what = "nothing came back"
    size = spec.min_header_size
    if not spec.is_simple or size == 1 or len(sent) < size:
        return Diagnosis(kind="nothing", summary=what)
    other_order: Literal["little", "big"] = "big" if spec.byte_order == "little" else "little"
    other = FramingSpec(**{**spec.to_wire(), "byte_order": other_order})
    ranked = guess_framing(sent, [spec, other])  # a tie goes to the framing in use
    if not ranked or ranked[0].spec != other or not _fits(ranked[0]):
        return Diagnosis(kind="nothing", summary=what)
    name = describe(other)
    return Diagnosis(
        kind="nothing",
        summary=(
            f"{what}; the bytes sent read better as {name} than as {describe(spec)} "
            f"({ranked[0].sentence()})"
        ),
        suggestion=name,
    )
