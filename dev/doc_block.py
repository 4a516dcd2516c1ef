"""A block of a document (README.md, docs/*.md) that a generator owns, between a begin and an end
marker: what `dev/route_table.py`, `dev/config_table.py` and `dev/capacity.py` write, and what
their freshness tests compare; and the anchors a document's headings give links."""

from __future__ import annotations

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def current(text: str, begin: str, end: str) -> str:
    """The block as the document holds it now, markers included."""
    return text[text.index(begin) : text.index(end) + len(end)]


def write_or_check(what: str, block: str, begin: str, end: str, document: pathlib.Path) -> int:
    """Writes `block` (markers included) over the document's, or with `--check` in the
    arguments exits 1 when the document's differs. Returns the exit code."""
    text = document.read_text()
    name = document.relative_to(ROOT)
    if "--check" in sys.argv:
        if current(text, begin, end) != block:
            print(f"{name}'s {what} is stale: run make docs", file=sys.stderr)
            return 1
        return 0
    document.write_text(text.replace(current(text, begin, end), block))
    print(f"wrote the {what} of {name}")
    return 0


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a Markdown document's headings (outside code blocks)."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", text, re.M)
    }
