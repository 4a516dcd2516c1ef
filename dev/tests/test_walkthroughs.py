"""The README's curl walkthrough runs as written against the local API, twice in a row, and every
request answers the status its comment says (`# 201`, `# 409 email_taken`).

Skipped outside `make test` (it needs E2E_BASE_URL)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import cfn

BASE = os.environ.get("E2E_BASE_URL")
MARKER = "<!-- walkthrough: dev/tests/test_walkthroughs.py runs this block and checks each status -->"

pytestmark = pytest.mark.skipif(not BASE, reason="runs under make test")


def walkthrough() -> str:
    readme = (cfn.ROOT / "README.md").read_text()
    after = readme[readme.index(MARKER) + len(MARKER):]
    match = re.match(r"\s*```sh\n(.*?)\n```", after, re.S)
    assert match, "the walkthrough marker must be followed by a ```sh block"
    return match.group(1)


def expected(block: str) -> list[tuple[str, str]]:
    """(status, code or "") of each curl command, from its trailing comment."""
    logical = re.sub(r"\\\n", " ", block).splitlines()
    answers = []
    for line in logical:
        if line.lstrip().startswith("#") or "curl " not in line:
            continue
        comment = re.search(r"#\s*(\d{3})(?:\s+([a-z_]+))?(?::|\s|$)", line)
        assert comment, f"a curl command without its expected status: {line}"
        answers.append((comment.group(1), comment.group(2) or ""))
    return answers


def test_every_curl_command_of_the_walkthrough_states_its_answer():
    answers = expected(walkthrough())
    assert len(answers) >= 10
    assert ("409", "email_taken") in answers and ("401", "invalid_token") in answers


def test_the_readme_walkthrough_runs_twice_as_written():
    block = walkthrough()
    # curl reports each answer's status (and the code of an error body) on stderr; stdout, which
    # the walkthrough pipes into python3, is untouched.
    wrapper = (
        "curl() { command curl -w '%{stderr}@@ %{http_code}\\n' \"$@\"; }\n"
        "set -euo pipefail\n"
    )
    for run in range(2):
        result = subprocess.run(
            ["bash", "-c", wrapper + block], env={**os.environ, "API": BASE},
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, f"run {run + 1}: {result.stderr}"
        statuses = re.findall(r"^@@ (\d{3})$", result.stderr, re.M)
        assert statuses == [status for status, _ in expected(block)], (run + 1, result.stdout, result.stderr)
        for status, code in expected(block):
            if code:
                assert f'"code":"{code}"' in result.stdout.replace(" ", ""), (code, result.stdout)


def test_the_invoke_walkthrough_of_docs_testing_md_runs_twice_as_written():
    text = (cfn.ROOT / "docs" / "testing.md").read_text()
    marker = "<!-- walkthrough: dev/tests/test_walkthroughs.py runs this block -->"
    block = re.match(r"\s*```sh\n(.*?)\n```", text[text.index(marker) + len(marker):], re.S).group(1)
    port = BASE.rsplit(":", 1)[1]
    for run in range(2):
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + block], cwd=cfn.ROOT,
            env={**os.environ, "PORT": port}, capture_output=True, text=True, timeout=180,
        )
        assert result.returncode == 0, f"run {run + 1}: {result.stdout} {result.stderr}"
        statuses = re.findall(r'"statusCode":\s*(\d{3})', result.stdout)
        # The first run may meet the address from an earlier run (409, as the comment says).
        assert len(statuses) == 2 and statuses[0] in ("201", "409") and statuses[1] == "200", statuses
        if run == 1:
            assert statuses[0] == "409", statuses
