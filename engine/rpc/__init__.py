"""The engine's side of the IPC: MessagePack-RPC served to a controller (the GUI, a shell).

Modules, one job each, from the wire inwards:

- ``stdio``: the transport of a GUI-started engine (``framewire-engine --stdio``): takes
  over fds 0/1 and runs ``server.serve_engine`` on them.
- ``unix``: the transport of a long-lived engine (``framewire-engine --serve-ipc``):
  serves a ``Connection`` to each controller on a Unix socket (``socket_file`` claims it
  and says who connected), events only after ``attach``, shutdown for all at once.
- ``broadcast``: the long-lived engine's event sink: every event to every attached
  controller, paced by the fastest; one that falls too far behind is disconnected.
- ``snapshot`` and ``history``: sans-IO; what the long-lived engine tells a controller
  that attaches (the sessions as the delivered events left them, each session's recent
  frames, both bounded).
- ``server``: ``serve_engine`` (an engine for one controller) and ``serve_rpc``, which
  wires the engine-wide event pump to a controller's connection and runs the
  ``shutdown`` sequence (close the sessions, flush their last events, in a deadline).
- ``connection``: one controller. The *reader* decodes its requests, answers the cheap
  ones inline (``ping``, ``get_api_info``, ``flow_control``, the ``ack`` notification),
  runs the others as tasks (bounded), and rate-limits what it logs about bad input; the
  *writer* drains the connection's outbox to the stream; a *stats* task.
- ``outbox``: what a connection writes next: responses ahead of events, events under the
  controller's credit window, both queues bounded (back-pressure).
- ``commands``: the requests that act on the engine's sessions (``open``, ``send``,
  ``close``, ``abort``, ``list_sessions``), each checked and run against the ``Engine``.
- ``pump``: moves the engine's events, encoded as notifications, to a sink (the outbox).
- ``batching``: sans-IO; coalesces consecutive ``received``/``sent`` frames of one session
  into notifications of bounded size, so a flood costs one message per batch.
- ``handshake``: the hello (also ``get_api_info`` and ``--api-info``).

Where the coming work plugs in:

- a new IPC method that acts on sessions (``listen``, ``relay``, ...): its schema in
  ``ipc/schema.py`` and a handler in ``commands.Commands``; nothing else changes.
- a new kind of thing a controller shows (listeners, relay pairs): a ``snapshot.Part``
  that follows its events, registered in ``snapshot.Journal`` (one line), and the
  attaching controller's snapshot holds it.
- the channel-kill policy for bad input: ``Connection.close_channel(reason, message)``
  ends one controller's channel; on the socket the others carry on.

Flow control end to end: a connection's outbox holds at most ``MAX_QUEUED_EVENT_BYTES``
of encoded events; when it is full the pump waits, the engine's bounded event channel
fills, and the engine's sessions stop reading their sockets (TCP pushes back on the
peers). The outbox empties only as fast as the controller reads. Responses are never
held back by credit, and are bounded too (``MAX_QUEUED_CONTROL_BYTES``: the reader stops
reading requests).
"""
