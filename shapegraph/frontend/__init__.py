"""The Gluon-style front end: blocks, layers, parameters, initializers, tracing."""
