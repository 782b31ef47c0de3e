"""Initializers (``init.Xavier()``, ``init.Uniform()``...): see
:mod:`shapegraph.frontend.init`."""

from shapegraph.frontend.init import *  # noqa: F403
from shapegraph.frontend.init import __all__  # noqa: F401
