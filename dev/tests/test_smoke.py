"""`make smoke` (dev/smoke.py) against the local API `make test` runs: it passes, twice in a row,
leaves no account, claim or session behind, and fails loudly (exit 1, the failing step named)
when the API does not answer as the contract says.

Skipped outside `make test` (it needs E2E_BASE_URL and the local DynamoDB)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

import cfn
import local_table

BASE = os.environ.get("E2E_BASE_URL")
AWS = os.environ.get("LOCAL_DYNAMODB_ENDPOINT")
TABLE = os.environ.get("TABLE_NAME")

pytestmark = pytest.mark.skipif(not (BASE and AWS and TABLE), reason="runs under make test")


def smoke(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(cfn.ROOT / "dev" / "smoke.py"), url],
        capture_output=True, text=True, timeout=120,
    )


def items_about(email: str) -> list[dict]:
    return [item for item in local_table.scan(AWS, TABLE) if email in repr(item)]


def test_the_smoke_test_passes_twice_and_leaves_nothing_behind():
    for _ in range(2):
        result = smoke(BASE)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.rstrip().endswith("smoke test passed")
        steps = re.findall(r"^  ok  (.+?)\s{2,}", result.stdout, re.M)
        assert steps[0] == "register" and steps[-1] == "login after deletion", steps
        email = re.search(r"with (\S+@simulator\.amazonses\.com)", result.stdout).group(1)
        # Only the per-address mail limit may stay, and it expires by TTL.
        left = [i for i in items_about(email) if not i["pk"].startswith("MAILRATE#")]
        assert left == [], left


def test_the_smoke_test_fails_loudly_when_the_api_is_not_there():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = smoke(f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert "SMOKE TEST FAILED: POST /register: no answer" in result.stderr


def test_the_smoke_test_fails_loudly_on_a_wrong_answer():
    # A path prefix that is not the API: the gateway's 404 at the first step.
    result = smoke(f"{BASE}/not-the-api")
    assert result.returncode == 1
    assert "SMOKE TEST FAILED: register: expected 201, got 404" in result.stderr
