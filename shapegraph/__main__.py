"""``python -m shapegraph ...``: the ``shapegraph`` command."""

import sys

from shapegraph.cli import main

sys.exit(main())
