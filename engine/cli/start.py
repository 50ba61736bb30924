"""Where ``framewire-engine`` and ``python -m engine`` begin: the cyclic garbage
collector stays off while the command line's modules load, and what they made is frozen
before ``engine.cli.main`` takes over.

Why: loading trio and the engine makes tens of thousands of objects (modules, classes,
functions) that live as long as the process. With the collector on, every few hundred
new ones set off a collection that walks them again for nothing, and the interpreter
walks them all once more as it exits. Frozen (``gc.freeze``), no collection ever looks
at them. Scripts run one-shot commands in loops, where start-up is most of the run:
this takes about a third off the CPU time of a ``framewire-engine HOST:PORT --send
hello`` (tools/bench/startup.py). This module imports nothing else, so nothing loads
before.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point: ``engine.cli.main.main``, once its modules are loaded
    with the collector off and frozen (then it tunes the collector: ``tune_gc``)."""
    gc.disable()
    from engine.cli.main import main as run

    gc.freeze()
    gc.enable()
    run(argv)
