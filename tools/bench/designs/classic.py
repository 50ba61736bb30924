"""The classic design: Twisted inside Qt's event loop (``qt-reactor``), one process.

This is the sample framewire descends from: a Twisted ``IntNStringReceiver`` with a
4-byte little-endian prefix whose ``stringReceived`` appends to a ``QTextEdit``, with
the reactor driven by Qt (``qreactor``, which reaches PySide6 through qtpy with
``QT_API=pyside6``). Every callback runs on the GUI thread.

Run: ``python -m tools.bench.designs.classic --server 127.0.0.1:PORT --out result.json``
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_API", "pyside6")  # qtpy (under qreactor) must pick PySide6

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

DESIGN = "classic"
LABEL = "Twisted in Qt (qt-reactor)"


def main() -> None:
    from tools.bench.designs.probe import ClassicWindow, Harness, parse_args

    args = parse_args(__doc__ or "")
    app = QApplication([])
    window = ClassicWindow(LABEL)
    window.show()

    # qreactor must be installed after the QApplication exists and before
    # twisted.internet.reactor is first imported.
    import qreactor

    qreactor.install()
    from twisted.internet import protocol, reactor
    from twisted.protocols.basic import IntNStringReceiver

    class ClassicProtocol(IntNStringReceiver):
        # Twisted's names for the prefix (its IntNStringReceiver API), hence mixedCase.
        structFormat = "<L"  # noqa: N815
        prefixLength = 4  # noqa: N815
        MAX_LENGTH = 1 << 20

        def connectionMade(self) -> None:  # noqa: N802 (Twisted's name)
            harness.start()

        def stringReceived(self, string: bytes) -> None:  # noqa: N802
            harness.on_frame(string)

    client = ClassicProtocol()
    harness = Harness(
        design=DESIGN,
        label=LABEL,
        plan_name=args.plan,
        out=args.out,
        send=client.sendString,
        log=window.log,
        ticks=lambda: window.probe.ticks,
    )

    def stop() -> None:
        # qreactor's own run() only notices reactor.stop() on its next network or timer
        # event (which may be many seconds away), so Twisted rides on Qt's loop with
        # runReturn() and the app quits Qt itself, as qreactor's docstring suggests.
        reactor.stop()
        QTimer.singleShot(0, app.quit)

    harness.finished.connect(stop)
    factory = protocol.ClientFactory.forProtocol(lambda: client)
    reactor.connectTCP(args.host, args.port, factory)
    reactor.runReturn()
    app.exec()


if __name__ == "__main__":
    main()
