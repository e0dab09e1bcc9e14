"""Quoting text others wrote (a destination's answer, an archive's key) for a person: whitespace folded, control
characters shown as escapes, cut short with an ellipsis.

A terminal obeys escape sequences (ESC ``[2J`` clears the screen, OSC sets the title, some rewrite what
was printed), and a destination, a bucket's keys or an archive line can hold any of them: what we print
of theirs shows each control character as ``\\x1b`` instead (:func:`printable`).
"""

from __future__ import annotations

import re

# C0 controls, DEL and the C1 controls (a terminal takes \x9b as ESC [): everything a terminal may act on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character shown as its ``\\xNN`` escape (newlines and tabs too: one line stays one)."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def folded(text: str, limit: int) -> str:
    """``text`` with its whitespace folded and its control characters escaped, cut to ``limit`` characters (an ellipsis says it was cut)."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
