"""A package's re-exported names, imported on first use (PEP 562).

Why: ``framewire-engine HOST:PORT --send hello`` is run in loops by scripts, and most of
its start-up is imports. A package ``__init__`` that imports everything it re-exports
makes every ``import engine.x`` or ``import ipc.y`` pay for the whole package (the
codec and msgpack, the listener, relay, TLS and capture modules); with this, the
``__init__`` names them and each is loaded by the first ``package.Name`` or
``from package import Name`` that uses it. The names are also imported under
``TYPE_CHECKING`` in the ``__init__``, for type checkers and readers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["exports", "lazy_module_attributes"]


def exports(module: str, names: Iterable[str]) -> dict[str, str]:
    """``{name: module}`` for each of ``names``: one line of a package's export table."""
    return dict.fromkeys(names, module)


def lazy_module_attributes(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose ``namespace`` (its
    ``globals()``) re-exports ``table``'s names, each from the module it maps to."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562's name)
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # once: later lookups find it without this function
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *table})

    return __getattr__, __dir__
