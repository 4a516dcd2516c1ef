"""`make dev` tells the truth about its ports: on a busy one it stops at once, names the port and
the variable that moves it, and exits non-zero, touching nothing of the instance that has it."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_local(port: int, ddb_port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORT": str(port), "DDB_PORT": str(ddb_port)}
    return subprocess.run(
        ["bash", "dev/run-local.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_busy_api_port_stops_make_dev_with_a_clear_message():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        pid_file = ROOT / ".local" / f"dev-{port}.pid"
        result = run_local(port, free_port())
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "PORT=" in result.stderr, result.stderr
    assert "running" not in result.stdout
    assert not pid_file.exists()


def test_a_busy_dynamodb_port_stops_make_dev_before_its_log_is_touched():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ddb_port = busy.getsockname()[1]
        log = ROOT / ".local" / f"dynamodb-{ddb_port}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text("another instance's log\n")
        result = run_local(free_port(), ddb_port)
        assert log.read_text() == "another instance's log\n", "never truncated"
        log.unlink()
    assert result.returncode != 0
    assert f"port {ddb_port}" in result.stderr and "DDB_PORT=" in result.stderr, result.stderr
