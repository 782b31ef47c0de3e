"""A tiny MXNet-style array shim (``nd.random.uniform(shape=...)``): see
:mod:`shapegraph.frontend.nd`."""

from shapegraph.frontend.nd import *  # noqa: F403
from shapegraph.frontend.nd import __all__  # noqa: F401
