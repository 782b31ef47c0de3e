"""``python -m shapegraph ...``: the ``shapegraph`` command."""

import sys

from shapegraph.tools.cli import main

sys.exit(main())
