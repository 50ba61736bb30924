"""Which decoder each session's payloads get, and their summaries, decoded lazily (Qt-free).

The log never decodes a frame when it arrives: a flood of a million frames costs nothing
here. A row's one-line summary is made when a view first asks for it (a visible row)
and kept in a bounded cache, so a repaint, or scrolling back and forth, decodes nothing
twice. The detail pane and the field filter decode on demand too.

Each session has its decoder (``auto`` unless the user chose another in the sessions
panel); changing it bumps ``generation`` and forgets that session's summaries.
"""

from __future__ import annotations

from collections import OrderedDict

from decoders import (
    DEFAULT_LIMITS,
    SUMMARY_LIMITS,
    Decoded,
    Decoder,
    Expression,
    Limits,
    decode,
    decoder_for,
    summary,
    to_plain,
)

__all__ = ["FILTER_LIMITS", "SUMMARY_CACHE_ROWS", "PayloadDecoding"]

#: Summaries kept (about 200 bytes each: a few MB at most).
SUMMARY_CACHE_ROWS = 20_000
#: A field filter decodes every row it scans: enough of a payload for a field near the
#: top, quickly (a filter over a million rows must not take minutes).
FILTER_LIMITS = Limits(max_depth=16, max_children=200, max_seconds=0.005)
#: The summary line's width in the log (characters; the view elides what does not fit).
SUMMARY_WIDTH = 200


class PayloadDecoding:
    """Decoders by session name, and the summaries of rows by sequence number."""

    def __init__(self, cache_rows: int = SUMMARY_CACHE_ROWS) -> None:
        self._default = decoder_for("auto")
        self._by_session: dict[str, Decoder] = {}
        self._labels: dict[str, str] = {}
        self._summaries: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._cache_rows = cache_rows
        #: Bumped whenever a session's decoder changes (views then refresh).
        self.generation = 0

    def decoder(self, session: str) -> Decoder:
        return self._by_session.get(session, self._default)

    def label(self, session: str) -> str:
        """What the sessions panel shows for the session's decoder (``auto`` by default)."""
        return self._labels.get(session, "auto")

    def set_decoder(self, session: str, decoder: Decoder, label: str | None = None) -> None:
        """Decode ``session``'s payloads with ``decoder`` from now on (rows shown again)."""
        self._by_session[session] = decoder
        self._labels[session] = label or decoder.name
        self._summaries = OrderedDict(
            (seq, entry) for seq, entry in self._summaries.items() if entry[0] != session
        )
        self.generation += 1

    def summary(self, seq: int, session: str, payload: bytes) -> str:
        """The one-line summary of row ``seq`` (cached)."""
        entry = self._summaries.get(seq)
        if entry is not None:
            return entry[1]
        text = summary(decode(payload, self.decoder(session), SUMMARY_LIMITS), SUMMARY_WIDTH)
        self._summaries[seq] = (session, text)
        if len(self._summaries) > self._cache_rows:
            self._summaries.popitem(last=False)
        return text

    def decode(self, session: str, payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Decoded:
        """The full tree of a payload (the detail pane's field tree)."""
        return decode(payload, self.decoder(session), limits)

    def matches(self, expression: Expression, session: str, payload: bytes) -> bool:
        """Whether a payload's decoded value passes a field expression."""
        decoded = decode(payload, self.decoder(session), FILTER_LIMITS)
        return expression.matches(to_plain(decoded.root), len(payload), decoded.decoder)

    def clear(self) -> None:
        """Forget every summary (the log was cleared)."""
        self._summaries.clear()
