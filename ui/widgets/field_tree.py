"""The detail pane's field tree: a decoded payload as a Qt tree model, and its view.

``FieldTreeModel`` is a ``QAbstractItemModel`` over a ``decoders.Node`` tree: columns
Field, Type, Value, Bytes. It creates indexes only for what a view asks for (a tree of a
big payload can have thousands of nodes, most never expanded). ``FieldTree`` shows it;
``field_selected(offset, length)`` says which bytes the selected field came from
(``length`` 0 when it has none), and ``select_offset`` selects the field holding a byte.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from decoders import Decoded, Kind, Node, format_value, node_at

__all__ = ["FieldTree", "FieldTreeModel"]

COLUMNS = ("Field", "Type", "Value", "Bytes")
COL_FIELD, COL_TYPE, COL_VALUE, COL_BYTES = range(len(COLUMNS))
#: Levels expanded when a payload is shown (deeper ones open on demand).
EXPAND_LEVELS = 2
_VALUE_CHARS = 300
_Index = QModelIndex | QPersistentModelIndex
_ERROR_COLOR = QColor("#b71c1c")
_MORE_COLOR = QColor("#777777")


class FieldTreeModel(QAbstractItemModel):
    """The fields of one decoded payload (``set_decoded``); empty until then."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root: Node | None = None
        self._decoder = ""
        # Where each node sits: its parent and row. Filled as children are first listed.
        self._parents: dict[int, tuple[Node | None, int]] = {}

    @property
    def root(self) -> Node | None:
        return self._root

    def set_decoded(self, decoded: Decoded | None) -> None:
        self.beginResetModel()
        self._root = decoded.root if decoded is not None else None
        self._decoder = decoded.decoder if decoded is not None else ""
        self._parents = {id(self._root): (None, 0)} if self._root is not None else {}
        self.endResetModel()

    def node(self, index: _Index) -> Node | None:
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        return node

    def index_of(self, node: Node) -> QModelIndex:
        """The index of ``node`` (registering the path to it, so any node can be shown)."""
        if self._root is None:
            return QModelIndex()
        if id(node) not in self._parents:
            self._register_path(node)
        _, row = self._parents.get(id(node), (None, 0))
        return self.createIndex(row, 0, node)

    def _register_path(self, target: Node) -> None:
        assert self._root is not None
        stack: list[Node] = [self._root]
        while stack:
            node = stack.pop()
            self._register_children(node)
            if node is target:
                return
            stack.extend(node.children)

    def _register_children(self, node: Node) -> None:
        for row, child in enumerate(node.children):
            self._parents.setdefault(id(child), (node, row))

    # ------------------------------------------------------------------ Qt model API

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if self._root is None:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, self._root) if row == 0 else QModelIndex()
        node = self.node(parent)
        if node is None or not 0 <= row < len(node.children):
            return QModelIndex()
        self._register_children(node)
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self.node(index)
        if node is None:
            return QModelIndex()
        parent, _ = self._parents.get(id(node), (None, 0))
        if parent is None:
            return QModelIndex()
        _, row = self._parents.get(id(parent), (None, 0))
        return self.createIndex(row, 0, parent)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if self._root is None:
            return 0
        if not parent.isValid():
            return 1
        if parent.column() != 0:
            return 0
        node = self.node(parent)
        return len(node.children) if node is not None else 0

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = 0) -> Any:
        node = self.node(index)
        if node is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, index.column())
        if role == Qt.ItemDataRole.ForegroundRole:
            if node.kind is Kind.ERROR:
                return _ERROR_COLOR
            if node.kind is Kind.MORE:
                return _MORE_COLOR
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == COL_VALUE:
            return self._text(node, COL_VALUE)
        return None

    def _text(self, node: Node, column: int) -> str:
        if column == COL_FIELD:
            if node is self._root:
                return f"payload ({self._decoder})"
            return node.name
        if column == COL_TYPE:
            return node.type
        if column == COL_VALUE:
            if node.kind in (Kind.ERROR, Kind.MORE):
                return str(node.value)
            if node.is_container:
                count = sum(1 for c in node.children if c.kind is not Kind.MORE)
                return f"{count} item{'' if count == 1 else 's'}"
            text = format_value(node.value)
            return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
        span = node.span
        if span is None:
            return ""
        return f"{span.offset}+{span.length}"


class FieldTree(QTreeView):
    """The view of a ``FieldTreeModel``, linked to the hex dump by byte offsets."""

    #: The selected field's bytes: offset and length (length 0: none to show).
    field_selected = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = FieldTreeModel(self)
        self.setModel(self.fields)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_VALUE, QHeaderView.ResizeMode.Stretch)
        # Field: the root's name whole ("payload (protobuf)") beside its arrow; Type: its
        # longest words ("fixed64"); Bytes: "offset+length"; Value gets the rest, which on
        # a 1024 px screen is little.
        metrics = self.fontMetrics()
        for col, sample, extra in (
            (COL_FIELD, "payload (protobuf)", self.indentation()),
            (COL_TYPE, "fixed64", 0),
            (COL_BYTES, "1234+5678", 0),
        ):
            self.setColumnWidth(col, metrics.horizontalAdvance(sample) + extra + 12)
        self.selectionModel().selectionChanged.connect(self._on_selection)

    def show_decoded(self, decoded: Decoded | None) -> None:
        """Show a payload's fields (None: nothing), the top levels expanded."""
        self.fields.set_decoded(decoded)
        if decoded is not None:
            self.expandToDepth(EXPAND_LEVELS - 1)

    def selected_node(self) -> Node | None:
        indexes = self.selectionModel().selectedRows()
        return self.fields.node(indexes[0]) if indexes else None

    def select_offset(self, offset: int) -> Node | None:
        """Select (and show) the innermost field holding byte ``offset``."""
        root = self.fields.root
        node = node_at(root, offset) if root is not None else None
        if node is None:
            return None
        index = self.fields.index_of(node)
        self.scrollTo(index)
        self.selectionModel().setCurrentIndex(
            index,
            self.selectionModel().SelectionFlag.ClearAndSelect
            | self.selectionModel().SelectionFlag.Rows,
        )
        return node

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        node = self.selected_node()
        span = node.span if node is not None else None
        if span is None:
            self.field_selected.emit(0, 0)
        else:
            self.field_selected.emit(span.offset, span.length)
