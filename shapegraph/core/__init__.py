"""The IR everything else builds on: dimensions, tensor types, the graph, diagnostics."""
