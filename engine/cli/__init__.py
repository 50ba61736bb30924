"""The headless command line: ``python -m engine`` / ``framewire-engine``.

The netcat of length-prefixed framing: connect, send frames given as arguments, from a
file or from stdin lines, print what comes back with timestamps, exit with a code a
script can rely on. ``--stdio`` turns the process into the GUI's engine (MessagePack-RPC
on stdin/stdout, served by ``engine.rpc``).

Modules, one job each:

- ``parse``: the argument parser (options, ``--help`` text, examples).
- ``plan``: checks the arguments of a client run and decodes its input into a ``Plan``.
- ``connect``: the connect mode: runs a ``Plan`` against one session.
- ``output``: how frames are printed (text, hex, JSON lines).
- ``exits``: the exit codes, the exceptions that mean them, and ``run_mode``, which runs
  a mode under ``trio.run`` and maps what it raises to its code.
- ``main``: the entry point: parse, tune the process, hand over to the chosen mode.

A new mode (``--listen``, ``--relay``, ``--script``, ``--replay``, ``--attach``,
``--serve-ipc``) is its options in ``parse``, its checked arguments (a plan of its own,
or a shared part of ``plan``), a module of its own next to ``connect`` holding its async
run function, and a branch in ``main`` that runs it with ``exits.run_mode``. Options
shared by modes (framing, TLS) are built once in ``parse`` and ``plan``; a new exit
code goes into ``exits``; decoded output goes into ``output``.
"""
