"""`make dev` tells the truth: on a busy port it stops at once, names the port and the variable
that moves it, and exits non-zero, touching nothing of the instance that has it; when it says
"running", the API and its documents answer; and `make stop` ends it with exit code 0."""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import mail

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_local(port: int, ddb_port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORT": str(port), "DDB_PORT": str(ddb_port), "MOTO_PORT": str(free_port()),
           "DOCS_PORT": str(free_port())}  # fmt: skip
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


def test_a_busy_documents_port_stops_make_dev_too():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        docs_port = busy.getsockname()[1]
        env = {**os.environ, "PORT": str(free_port()), "DDB_PORT": str(free_port()),
               "MOTO_PORT": str(free_port()), "DOCS_PORT": str(docs_port)}  # fmt: skip
        result = subprocess.run(["bash", "dev/run-local.sh"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert f"port {docs_port}" in result.stderr and "DOCS_PORT=" in result.stderr, result.stderr


def listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of every TCP socket listening on `port`, from /proc/net/tcp{,6}
    (an IPv4-mapped IPv6 address is read as the IPv4 address it maps)."""
    found = []
    for table, width in (("tcp", 4), ("tcp6", 16)):
        for line in pathlib.Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
            parsed = ipaddress.ip_address(raw)
            if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
                parsed = parsed.ipv4_mapped
            found.append(parsed)
    return found


def status_of(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_make_dev_serves_the_api_and_its_contract_and_make_stop_ends_it_with_0():
    port, ddb_port, moto_port = free_port(), free_port(), free_port()
    docs_port, web_port = free_port(), free_port()
    env = {**os.environ, "PORT": str(port), "DDB_PORT": str(ddb_port), "MOTO_PORT": str(moto_port),
           "DOCS_PORT": str(docs_port), "WEB_PORT": str(web_port)}  # fmt: skip
    dev = subprocess.Popen(["make", "--no-print-directory", "dev"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        output = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = dev.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Accounts API running" in line:
                break
        assert any("Accounts API running" in line for line in output), "".join(output)
        for line in dev.stdout:  # the rest of the banner
            output.append(line)
            if "requests.http" in line:
                break
        banner = "".join(output)
        # Keep reading what the API logs, as a terminal would: a full pipe would block it.
        threading.Thread(target=dev.stdout.read, daemon=True).start()
        assert f"http://127.0.0.1:{docs_port}/openapi.yaml" in banner, banner
        web = f"http://localhost:{web_port}"
        assert web in banner, banner

        # The web client, with its CSP, at a page path the app routes itself; the API grants
        # its origin CORS.
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/sessions", timeout=30) as response:
            assert b'<script type="module" src="/src/app.js">' in response.read()
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        preflight = urllib.request.Request(f"http://127.0.0.1:{port}/login", method="OPTIONS",
                                           headers={"Origin": web, "Access-Control-Request-Method": "POST"})  # fmt: skip
        with urllib.request.urlopen(preflight, timeout=60) as response:
            assert response.headers["Access-Control-Allow-Origin"] == web

        # The contract, importable by URL from a browser tool: its media type, CORS, and this
        # run's API address (PORT moves it) as the local server.
        request = urllib.request.Request(f"http://127.0.0.1:{docs_port}/openapi.yaml",
                                         headers={"Origin": "https://editor.swagger.io"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            document = response.read()
            assert response.headers["Content-Type"] == "application/yaml"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert document.startswith(b"openapi: 3.1")
        assert f"- url: http://127.0.0.1:{port}\n".encode() in document
        with urllib.request.urlopen(f"http://127.0.0.1:{docs_port}/requests.http", timeout=30) as response:
            assert f"@baseUrl = http://127.0.0.1:{port}\n".encode() in response.read()
        assert status_of(f"http://127.0.0.1:{port}/profile")[0] == 401
        # Every server this run started listens on loopback only (DynamoDB Local would bind every
        # interface if dev/dynamodb-local/LoopbackDynamoDBLocal.java did not hold it).
        for served in (port, ddb_port, moto_port, docs_port, web_port):
            addresses = listening_addresses(served)
            assert addresses and all(a.is_loopback for a in addresses), (served, addresses)

        # Mail: a registration's verification reaches the local SES through the queue, the
        # poller and the mailer, and `make mail` shows it.
        endpoint = f"http://127.0.0.1:{moto_port}"
        delays = []
        for _ in range(5):  # the first reaches a cold mailer; the others a warm one
            email = f"dev-mail-{uuid.uuid4().hex}@example.com"
            body = json.dumps({"email": email, "password": "correct horse battery staple"}).encode()
            request = urllib.request.Request(f"http://127.0.0.1:{port}/register", data=body,
                                             headers={"content-type": "application/json"})  # fmt: skip
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 201
            while not [m for m in mail.sent(endpoint) if email in m["to"]]:
                # A generous wait for a loaded machine, not a verdict on speed.
                assert time.monotonic() - started < 120, "no verification mail within 120 s"
                time.sleep(0.02)
            delays.append(time.monotonic() - started)
        (ROOT / "target").mkdir(exist_ok=True)
        (ROOT / "target" / "mail-delay-make-dev.txt").write_text(" ".join(f"{d:.3f}" for d in delays) + "\n")
        shown = subprocess.run(["make", "--no-print-directory", "mail", f"MOTO_PORT={moto_port}", f"TO={email}"],
                               cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert "Subject: Confirm your email address for Accounts" in shown.stdout, shown.stdout
        assert f"{web}/verify#token=" in shown.stdout, shown.stdout

        stop = subprocess.run(["make", "--no-print-directory", "stop", f"PORT={port}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert stop.returncode == 0, stop.stderr
        assert dev.wait(timeout=60) == 0, "a deliberate stop exits 0"
        assert not (ROOT / ".local" / f"dev-{port}.pid").exists()
        for busy in (port, ddb_port, moto_port, docs_port, web_port):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", busy))  # freed: everything it started has stopped
    finally:
        if dev.poll() is None:
            dev.terminate()
            dev.wait(timeout=60)
