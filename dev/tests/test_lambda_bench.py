"""`make bench`'s Lambda emulator works: it runs the (debug) function binaries as Lambda does,
through the Runtime API, against the local DynamoDB `make test` started, and reports every
figure for every function. A smoke run; the figures themselves belong to docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_emulator_runs_every_function_as_lambda_does(tmp_path):
    endpoint = os.environ.get("LOCAL_DYNAMODB_ENDPOINT")
    assert endpoint, "LOCAL_DYNAMODB_ENDPOINT is set by `make test`"
    raw = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "dev/lambda_bench.py", "--ddb", endpoint, "--aws", os.environ["LOCAL_MOTO_ENDPOINT"],
         "--table", "bench-smoke",
         "--impl", "rust", "--rust-dir", str(ROOT / "target" / "debug"), "--processes", "2",
         "--warm", "3", "--warm-argon2", "2", "--init-only", "logout,refresh", "--json", str(raw)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(raw.read_text())
    for function in ("register", "login", "profile"):
        row = figures[f"rust/{function}"]
        assert len(row["init"]) == len(row["first"]) == len(row["second"]) == 2, function
        assert all(value > 0 for value in row["init"] + row["first"] + row["warm"]), function
        assert all(mb > 1 for mb in row["hwm_init"] + row["hwm_warm"]), function
    assert set(figures["init_only"]) == {"logout", "refresh"}
    assert "| rust | profile |" in result.stdout
    assert "emulator round trip" in result.stdout
