"""Rendering diagnostics and graphs: rustc-style text, JSON, the layer table
(:mod:`~shapegraph.render.text`), pictures (:mod:`~shapegraph.render.picture`), and
:class:`~shapegraph.render.errors.ShapeError`, whose message is the rendered text."""

from shapegraph.render.text import layer_rows, render_json, render_rich, render_table, render_text

__all__ = ["layer_rows", "render_json", "render_rich", "render_table", "render_text"]
