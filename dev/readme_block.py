"""A block of README.md that a generator owns, between a begin and an end marker: what
`dev/route_table.py` and `dev/config_table.py` write, and what their freshness tests compare."""

from __future__ import annotations

import pathlib
import sys

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def current(text: str, begin: str, end: str) -> str:
    """The block as README holds it now, markers included."""
    return text[text.index(begin) : text.index(end) + len(end)]


def write_or_check(what: str, block: str, begin: str, end: str) -> int:
    """Writes `block` (markers included) over README's, or with `--check` in the arguments exits
    1 when README's differs. Returns the exit code."""
    text = README.read_text()
    if "--check" in sys.argv:
        if current(text, begin, end) != block:
            print(f"README.md's {what} is stale: run make docs", file=sys.stderr)
            return 1
        return 0
    README.write_text(text.replace(current(text, begin, end), block))
    print(f"wrote the {what} of {README}")
    return 0
