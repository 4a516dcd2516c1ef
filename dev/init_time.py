"""Init time of the function binaries: exec -> first `GET /runtime/invocation/next`.

A minimal Lambda Runtime API (just the endpoint a fresh process calls first) on loopback; each
run starts a fresh process of each binary with the local environment, interleaved, and times how
long it takes to ask for its first event. Cold-start work in this project (logging, config, SDK
config, keys) all happens before that request, so this is the init Lambda bills.

    python3 dev/init_time.py --runs 30 target/release/register target/release/profile

Prints min / p50 / p95 / max in milliseconds per binary. No network, no DynamoDB needed: the
functions do not call AWS during init when the signing key comes from TOKEN_SIGNING_KEY.
"""

from __future__ import annotations

import argparse
import http.server
import os
import pathlib
import statistics
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def local_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "dev" / "local.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name] = value
    return env


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.asked = threading.Event()
        self.asked_at = 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    server: RuntimeApi

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.endswith("/runtime/invocation/next") and not self.server.asked.is_set():
            self.server.asked_at = time.perf_counter()
            self.server.asked.set()
        # Hold the long poll: the process is killed once it has asked.
        time.sleep(5)

    def log_message(self, *args: object) -> None:
        pass


def init_once(binary: str) -> float:
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        **local_env(),
        "RUST_LOG": "warn",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": pathlib.Path(binary).name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not api.asked.wait(timeout=10):
            raise SystemExit(f"{binary} never asked for an event: {process.stderr.read(2000)!r}")
        return (api.asked_at - started) * 1000
    finally:
        process.kill()
        process.wait()
        api.shutdown()
        api.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    times: dict[str, list[float]] = {binary: [] for binary in args.binaries}
    for binary in args.binaries:
        init_once(binary)  # warm the page cache
    for _ in range(args.runs):
        for binary in args.binaries:
            times[binary].append(init_once(binary))
    print("| binary | size MB | runs | min ms | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for binary, samples in times.items():
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        size = pathlib.Path(binary).stat().st_size / 1e6
        print(
            f"| {binary} | {size:.2f} | {len(samples)} | {samples[0]:.2f} | "
            f"{statistics.median(samples):.2f} | {p95:.2f} | {samples[-1]:.2f} |"
        )


if __name__ == "__main__":
    main()
