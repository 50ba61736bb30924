"""``python -m tools.bench`` (``make bench``): see ``tools.bench.suite``."""

import sys

from tools.bench.suite import main

sys.exit(main())
