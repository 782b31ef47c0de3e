"""``shapegraph explain SGxxx``: print that code's section of docs/errors.md."""

from __future__ import annotations

import re
from importlib import resources

from shapegraph.core.diagnostics import CODES

__all__ = ["error_sections", "explain"]


def error_sections() -> dict[str, str]:
    """Code -> its Markdown section (heading included), from the packaged errors.md."""
    text = resources.files("shapegraph").joinpath("data/errors.md").read_text("utf-8")
    out = {}
    for part in re.split(r"(?m)^(?=## SG\d{3})", text):
        m = re.match(r"## (SG\d{3})", part)
        if m:
            out[m.group(1)] = part.strip()
    return out


def explain(code: str) -> int:
    """Print the section for ``code``; 0 when found, 2 for an unknown code."""
    key = code.strip().upper()
    if re.fullmatch(r"\d{3}", key):
        key = "SG" + key
    sections = error_sections()
    if key not in sections:
        known = ", ".join(sorted(CODES))
        print(f"shapegraph explain: unknown code {code!r}; known codes: {known}")
        return 2
    print(sections[key])
    return 0
