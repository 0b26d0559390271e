"""``python -m nudge.loop.cli``: the ``nudge`` command."""

import sys

from nudge.loop.cli import main

sys.exit(main())
