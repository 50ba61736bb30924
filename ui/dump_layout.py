"""Where each payload byte is in the detail pane's hex dump, and back (Qt-free).

``ui.formatting.hex_dump`` writes ``width`` bytes a line: 8 hex digits of offset, two
spaces, each byte as two hex digits and a space, then one space and the bytes as ASCII.
The field tree highlights a field's bytes in both columns; a click on either column
selects the byte under it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DumpLayout"]

_HEX_START = 10  # "00000000  "


@dataclass(frozen=True, slots=True)
class DumpLayout:
    """A dump of ``length`` bytes, ``width`` a line, starting at document line ``first_line``."""

    width: int
    length: int
    first_line: int

    @property
    def _ascii_start(self) -> int:
        return _HEX_START + 3 * self.width + 1

    def ranges(self, offset: int, length: int) -> list[tuple[int, int, int]]:
        """``(line, first column, columns)`` to highlight for bytes ``offset..offset+length``.

        Two ranges a dump line: the hex digits and the ASCII characters. Bytes past the
        dump (a payload cut to ``DETAIL_MAX_BYTES``) are left out.
        """
        end = min(offset + length, self.length)
        out: list[tuple[int, int, int]] = []
        pos = max(offset, 0)
        while pos < end:
            line, col = divmod(pos, self.width)
            count = min(self.width - col, end - pos)
            out.append((self.first_line + line, _HEX_START + 3 * col, 3 * count - 1))
            out.append((self.first_line + line, self._ascii_start + col, count))
            pos += count
        return out

    def offset_at(self, line: int, column: int) -> int | None:
        """The byte shown at document ``line``/``column``; None off the bytes."""
        row = line - self.first_line
        if row < 0:
            return None
        if _HEX_START <= column < _HEX_START + 3 * self.width:
            col = (column - _HEX_START) // 3
        elif self._ascii_start <= column < self._ascii_start + self.width:
            col = column - self._ascii_start
        else:
            return None
        offset = row * self.width + col
        return offset if offset < self.length else None
