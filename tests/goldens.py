"""Golden files: rendered texts and pictures compared with tests/golden/NAME.

After an intended change, regenerate with ``UPDATE_GOLDEN=1`` and review the diff by eye."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    """``text`` (without its final newline) is the content of tests/golden/``name``."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text + "\n", encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text + "\n" == path.read_text(encoding="utf-8")
