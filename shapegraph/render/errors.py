"""``ShapeError``: shapes conflict. Its message is the diagnostics rendered as text, so it
lives above the renderer; its records are in ``.diagnostics``."""

from __future__ import annotations

from shapegraph.core.diagnostics import Diagnostic
from shapegraph.render.text import render_text

__all__ = ["ShapeError"]


class ShapeError(ValueError):
    """Shapes conflict: the message holds every error; ``.diagnostics`` holds the records."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...],
                 headline: str = "") -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        head = headline or f"{len(errors)} shape error{'s' if len(errors) != 1 else ''}"
        body = render_text(errors, color=False)
        super().__init__(f"{head}\n\n{body}".rstrip())
