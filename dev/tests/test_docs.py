"""The README stays a front door (at most 250 lines), and every relative link of the README and
docs/ leads somewhere: the file exists and, for `file.md#anchor`, the heading does."""

from __future__ import annotations

import re

import pytest

import cfn
from doc_block import anchors

ROOT = cfn.ROOT
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move reference to docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    text = document.read_text()
    for target in LINK.findall(re.sub(r"```.*?```", "", text, flags=re.S)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        assert file.exists(), f"{document.name}: {target} does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file.read_text()), f"{document.name}: {target}: no such heading"
