"""``python -m drawstreamd.gatekeeper``: the same loop as ``drawstreamd gatekeeper``."""

import sys

from drawstreamd.gatekeeper.cli import main

sys.exit(main())
