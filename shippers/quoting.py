"""Quoting what a destination said inside a verdict message: whitespace folded, cut short with an ellipsis."""

from __future__ import annotations


def folded(text: str, limit: int) -> str:
    """``text`` with its whitespace folded, cut to ``limit`` characters (an ellipsis says it was cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
