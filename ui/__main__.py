"""``python -m ui``: the framewire window (see ``ui.app``)."""

import sys

from ui.app import main

sys.exit(main())
