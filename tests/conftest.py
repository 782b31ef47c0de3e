"""Test-session settings."""

import os

# no helper processes for a first call's compile (shapegraph/executor/warm.py): the
# pytest-xdist workers have the cores already; tests/test_warm.py turns them on itself
os.environ.setdefault("SHAPEGRAPH_COMPILE_WORKERS", "0")
