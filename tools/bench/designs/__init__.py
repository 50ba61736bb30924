"""The designs framewire replaces, rebuilt to do the same work, plus the scenario drivers.

Each comparison app is a standalone PySide6 program that does what framewire's classic
sample does: a circle animated by a 25 ms ``QTimer`` whose tick intervals are recorded,
and a network client to the demo server (4-byte little-endian length prefix) that logs
every received frame into a ``QTextEdit``. They differ only in how the network runs
inside Qt's event loop:

- ``classic``   Twisted inside Qt's event loop (the ``qt-reactor`` package, via qtpy);
- ``qtrio_app`` Trio in Qt's guest mode (``qtrio``);
- ``qasync_app`` asyncio in Qt's event loop (``qasync``);

and ``framewire_app`` drives the real framewire GUI (which runs the network in its
engine process) through the same timeline.

All of them follow one timeline (``scenario.Plan``): idle; a network handler that
blocks for 1 s; a flood of 100-byte sequence-numbered frames. Each writes one JSON
result (``scenario.DesignResult``) that ``tools.bench.report`` turns into tables and
the chart. ``runner`` starts them as subprocesses against one demo server; ``probe``
is the Qt half they share (window, tick probe, timeline), ``scenario`` the Qt-free half
(plans, results, statistics), ``chart`` draws the report's picture.
"""
