"""What Lambda bills and users feel, per function: a local Lambda Runtime API emulator that runs
each function binary as Lambda does, one emulator per process, against a local DynamoDB.

    python3 dev/lambda_bench.py --ddb http://127.0.0.1:PORT --table TABLE [--impl rust,node-bundled]

The emulator speaks the documented Runtime API (`GET /2018-06-01/runtime/invocation/next`,
`POST .../invocation/{id}/response`, `.../invocation/{id}/error`, `.../init/error`) with the
Lambda environment variables set, and measures, per implementation and function:

- init: exec -> the first `GET next` (the cold start Lambda bills), over fresh processes;
- the first and the second invocation of each fresh process (next delivered -> response posted);
- warm p50 / p99 over many invocations of one process;
- peak RSS (VmHWM) after init, after the first invocation, after the warm run;
- the invocation's time outside DynamoDB: DynamoDB calls go through a timing proxy in front of
  the local server (its own work counted as DynamoDB's), so each invocation's time waiting on
  DynamoDB is known and subtracted. What remains is the function's own work (and argon2's,
  for register and login) plus this emulator's round trip, which a no-op function measures.

Implementations are interleaved (process by process), so that a noisy moment of the machine
hits all of them alike, and the output ends with Rust/Node ratios. What the figures leave out:
TLS (the local DynamoDB is plain HTTP), real network latency, Lambda's own sandbox start-up;
what they include: moto's per-call cost (about 1 ms, the same for every implementation) and
this emulator's (well under 0.5 ms per invocation).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import io
import json
import os
import pathlib
import queue
import socket
import sys
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
import local_table  # noqa: E402 (dev/ is not a package)
TWIN = ROOT / "bench" / "node-twin"
PASSWORD = "correct horse battery staple"
PLACEHOLDER = "REPLACE_WITH_AN_ACCESS_TOKEN_FROM_REGISTER_OR_LOGIN"
FUNCTIONS = ["register", "login", "profile"]
ARGON2_ROUTES = {"register", "login"}


# ------------------------------------------------------------------ servers


class Server(http.server.ThreadingHTTPServer):
    """A threading HTTP server that accepts with a blocking `accept()`, one thread per
    connection. socketserver's own `serve_forever` waits in a selector, which here woke about
    2 ms after a connection arrived (measured: a function's first `GET next` seen 4.0-4.7 ms after
    exec against 2.0 ms with a blocking accept); that delay landed in the init figures, and in the
    first invocation through the first DynamoDB connection."""

    daemon_threads = True

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        while True:
            try:
                request, address = self.socket.accept()
            except OSError:  # shut down
                return
            self.process_request(request, address)

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()

    def handle_error(self, request, client_address) -> None:
        pass  # a killed function drops its connections; that is how every instance ends


# ------------------------------------------------------------------ DynamoDB timing proxy


class DynamoProxy(Server):
    """Forwards to the local DynamoDB and adds up the time each call takes, per client port."""

    def __init__(self, target: str, delay_ms: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), DynamoHandler)
        self.delay = delay_ms / 1000
        parsed = urllib.parse.urlparse(target)
        self.target = (parsed.hostname, parsed.port)
        self.lock = threading.Lock()
        self.spent = 0.0
        self.calls = 0
        self.intervals: list[tuple[float, float, str]] = []  # (start, end, X-Amz-Target) of each call

    def take(self) -> tuple[float, int]:
        with self.lock:
            spent, calls, self.spent, self.calls = self.spent, self.calls, 0.0, 0
        return spent, calls

    def take_intervals(self) -> list[tuple[float, float, str]]:
        with self.lock:
            intervals, self.intervals = self.intervals, []
        return intervals


class DynamoHandler(http.server.BaseHTTPRequestHandler):
    """One client connection. The time counted runs from the parsed request line to the last
    byte of the answer written back, so the proxy's own work is counted as DynamoDB's, not the
    function's."""

    server: DynamoProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body
    upstream: http.client.HTTPConnection | None = None

    def parse_request(self) -> bool:
        self.started = time.perf_counter()
        return super().parse_request()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        time.sleep(self.server.delay)  # the network an AWS endpoint is away, where asked for
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        for attempt in range(2):  # one upstream connection per client connection, kept
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.server.target, timeout=30)
            try:
                self.upstream.request("POST", self.path, body=body, headers=headers)
                response = self.upstream.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.upstream.close()  # the server closed a kept connection: open a new one
                self.upstream = None
                if attempt:
                    raise
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        # Counted before the answer is written: the caller may go on (and be asked what it
        # called) the moment it has the answer.
        ended = time.perf_counter()
        with self.server.lock:
            self.server.spent += ended - self.started
            self.server.calls += 1
            self.server.intervals.append((self.started, ended, self.headers.get("x-amz-target", self.path)))
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


# ------------------------------------------------------------------ the Runtime API emulator


class RuntimeApi(Server):
    """One process's Runtime API: hands out the events put in `events`, collects the answers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.events: queue.Queue[dict | None] = queue.Queue()
        self.answers: queue.Queue[tuple[str, float, dict]] = queue.Queue()
        self.first_next = threading.Event()
        self.first_next_at = 0.0
        self.delivered_at = 0.0


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    server: RuntimeApi
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body

    def do_GET(self) -> None:  # noqa: N802
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        if not self.server.first_next.is_set():
            self.server.first_next_at = time.perf_counter()
            self.server.first_next.set()
        event = self.server.events.get()
        if event is None:  # the bench is done with this process
            self.send_error(410)
            return
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("lambda-runtime-aws-request-id", str(uuid.uuid4()))
        self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 10_000))
        self.send_header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
        )
        self.send_header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.server.delivered_at = time.perf_counter()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        done = time.perf_counter()
        length = int(self.headers.get("content-length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        kind = self.path.rsplit("/", 1)[-1]  # response | error (init/error too)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()
        self.server.answers.put((kind, done - self.server.delivered_at, payload))

    def log_message(self, *args: object) -> None:
        pass


def vm_hwm_kb(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Instance:
    """One function process, as Lambda runs it, behind its own emulator."""

    def __init__(self, command: list[str], env: dict[str, str], proxy: DynamoProxy) -> None:
        self.api = RuntimeApi()
        self.proxy = proxy
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        env = {
            **env,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        }
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, env=env, cwd=TWIN if command[0] == "node" else ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if not self.api.first_next.wait(timeout=30):
            self.stop()
            raise SystemExit(f"{command} never asked for an event: {self.process.stderr.read(3000)!r}")
        self.init_ms = (self.api.first_next_at - started) * 1000
        self.hwm_init = vm_hwm_kb(self.process.pid)

    def invoke(self, event: dict) -> tuple[float, float, dict]:
        """(duration ms, of which waiting on DynamoDB ms, response)."""
        self.proxy.take()
        self.api.events.put(event)
        kind, seconds, payload = self.api.answers.get(timeout=60)
        dynamo, _ = self.proxy.take()
        if kind != "response":
            raise SystemExit(f"invocation failed ({kind}): {payload}")
        return seconds * 1000, dynamo * 1000, payload

    def hwm(self) -> int:
        return vm_hwm_kb(self.process.pid)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.api.events.put(None)
        self.api.shutdown()
        self.api.server_close()


# ------------------------------------------------------------------ implementations and events


def local_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "dev" / "local.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name] = value
    return env


RUST_DIR = ROOT / "target" / "release"

IMPLEMENTATIONS = {
    "rust": None,
    "node-bcrypt": ("src", "bcrypt"),
    "node-bundled-bcrypt": ("dist", "bcrypt"),
    "node-bundled-argon2": ("dist", "argon2"),
}


def command_for(impl: str, function: str) -> tuple[list[str], dict[str, str]]:
    if impl == "rust":
        return [str(RUST_DIR / function)], {"AWS_LAMBDA_FUNCTION_NAME": function}
    folder, hasher = IMPLEMENTATIONS[impl]
    module = (TWIN / folder / f"{function}.mjs").as_uri()
    return ["node", str(TWIN / "runtime.mjs")], {
        # The twin signs HS256 tokens with the development HMAC key (its own variable's name).
        "TOKEN_SIGNING_KEY": local_env()["HMAC_KEY"],
        "AWS_LAMBDA_FUNCTION_NAME": f"{function}-{impl}",
        "TWIN_HANDLER": module,
        "TWIN_HASHER": hasher,
    }


def event_template(function: str) -> dict:
    return json.loads((ROOT / "events" / function / "ok.json").read_text())


def with_body(function: str, body: dict) -> dict:
    event = event_template(function)
    event["body"] = json.dumps(body)
    event["isBase64Encoded"] = False
    return event


class Events:
    """Fresh, valid events: a new email per registration, an account and a token per
    implementation for login and profile (made by that implementation's own register)."""

    def __init__(self, impl: str) -> None:
        self.impl = impl
        self.account: str | None = None
        self.token: str | None = None

    def register(self, email: str | None = None) -> dict:
        email = email or f"bench-{uuid.uuid4().hex}@example.com"
        return with_body("register", {"email": email, "password": PASSWORD, "name": "Ada"})

    def login(self) -> dict:
        return with_body("login", {"email": self.account, "password": PASSWORD})

    def profile(self) -> dict:
        event = event_template("profile")
        event["headers"]["authorization"] = f"Bearer {self.token}"
        return event

    def for_function(self, function: str) -> dict:
        return getattr(self, function)()


# ------------------------------------------------------------------ the bench


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def spread(samples: list[float]) -> tuple[float, float, float]:
    """min, p50, p95: how init figures are reported."""
    return min(samples), statistics.median(samples), percentile(samples, 0.95)


def cells(values: tuple[float, ...]) -> str:
    return " | ".join(f"{value:.1f}" for value in values)


def main() -> None:
    global RUST_DIR
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ddb", required=True, help="the local DynamoDB endpoint")
    parser.add_argument("--aws", help="the local SQS, SES and Secrets Manager endpoint (moto); --ddb unless given")
    parser.add_argument("--table", required=True, help="a prefix: each round makes a new table")
    parser.add_argument("--impl", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--processes", type=int, default=20, help="fresh processes per function")
    parser.add_argument("--warm", type=int, default=200, help="warm invocations (profile)")
    parser.add_argument("--warm-argon2", type=int, default=30, help="warm invocations (register, login)")
    parser.add_argument("--init-only", default="", help="more Rust binaries: init and size only")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument(
        "--round-trip-ms", type=float, default=10.0,
        help="the modelled network delay per AWS call at init (keys from Secrets Manager, as in AWS)",
    )  # fmt: skip
    parser.add_argument("--rust-dir", default=str(RUST_DIR), help="where the release binaries are")
    parser.add_argument(
        "--secret-init", action="store_true",
        help="only: init of login with its key in Secrets Manager (moto, 40 ms away) and argon2 "
        "parameters other than the defaults (a dummy hash at start-up)",
    )  # fmt: skip
    args = parser.parse_args()
    args.aws = args.aws or args.ddb
    RUST_DIR = pathlib.Path(args.rust_dir).resolve()
    impls = [i for i in args.impl.split(",") if i]

    proxy = DynamoProxy(args.ddb)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    base_env = {
        "PATH": os.environ.get("PATH", ""),
        **local_env(),
        "RUST_LOG": "warn",
        "TABLE_NAME": args.table,
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{proxy.server_address[1]}",
        # The mail queue beside the table, at the local endpoint itself (not through the timing
        # proxy): a queued message is part of the function's own time, as SQS is in AWS.
        "AWS_ENDPOINT_URL_SQS": args.aws,
        "AWS_ENDPOINT_URL_SESV2": args.aws,
        "MAIL_QUEUE_URL": f"{args.aws}/123456789012/{args.table}-mail",
    }
    with contextlib.redirect_stdout(io.StringIO()):
        local_table.create_mail(args.aws, args.table, base_env["MAIL_FROM"])
    if args.secret_init:
        secret_init(args, base_env)
        return
    events = {impl: Events(impl) for impl in impls}
    results: dict[tuple[str, str], dict[str, list[float]]] = {}

    def start(impl: str, function: str) -> Instance:
        command, extra = command_for(impl, function)
        return Instance(command, {**base_env, **extra}, proxy)

    def fresh_table() -> None:
        """A new, empty table, with each implementation's own account in it (made by its own
        register; login and profile use it). moto's transactions copy the whole table, so
        their cost grows with it: each round and each warm run starts small instead."""
        base_env["TABLE_NAME"] = f"{args.table}-{uuid.uuid4().hex[:8]}"
        with contextlib.redirect_stdout(io.StringIO()):
            local_table.create(args.ddb, base_env["TABLE_NAME"])
        for impl in impls:
            instance = start(impl, "register")
            email = f"bench-{impl}-{uuid.uuid4().hex[:8]}@example.com"
            _, _, answer = instance.invoke(events[impl].register(email))
            instance.stop()
            body = json.loads(answer["body"])
            events[impl].account, events[impl].token = email, body["access_token"]

    # Cold: fresh processes, interleaved across implementations and functions.
    for round_ in range(args.processes):
        fresh_table()
        for function in FUNCTIONS:
            for impl in impls:
                instance = start(impl, function)
                r = results.setdefault((impl, function), {k: [] for k in (
                    "init", "first", "second", "warm", "outside", "hwm_init", "hwm_first", "hwm_warm")})  # fmt: skip
                r["init"].append(instance.init_ms)
                r["hwm_init"].append(instance.hwm_init / 1024)
                first, _, answer = instance.invoke(events[impl].for_function(function))
                assert answer["statusCode"] < 300, answer
                r["first"].append(first)
                r["hwm_first"].append(instance.hwm() / 1024)
                second, _, _ = instance.invoke(events[impl].for_function(function))
                r["second"].append(second)
                instance.stop()
        print(f"  round {round_ + 1}/{args.processes} done", flush=True)

    # Warm: one process per implementation and function, many invocations, interleaved
    # invocation by invocation (moto slows down as its table grows: all pay it alike).
    for function in FUNCTIONS:
        fresh_table()
        count = args.warm_argon2 if function in ARGON2_ROUTES else args.warm
        instances = {impl: start(impl, function) for impl in impls}
        for _ in range(3):  # past the first invocations
            for impl, instance in instances.items():
                instance.invoke(events[impl].for_function(function))
        for _ in range(count):
            for impl, instance in instances.items():
                duration, dynamo, _ = instance.invoke(events[impl].for_function(function))
                results[(impl, function)]["warm"].append(duration)
                results[(impl, function)]["outside"].append(duration - dynamo)
        for impl, instance in instances.items():
            results[(impl, function)]["hwm_warm"].append(instance.hwm() / 1024)
            instance.stop()

    # The emulator's own cost per invocation: a function that does nothing (in Python, whose
    # HTTP client is slower than the Rust runtime's, so this over-estimates it).
    noop = Instance([sys.executable, str(ROOT / "dev" / "noop_runtime.py")], base_env, proxy)
    for _ in range(20):
        noop.invoke({})
    emulator = sorted(noop.invoke({})[0] for _ in range(200))
    noop.stop()
    print(f"  emulator round trip (no-op function): p50 {statistics.median(emulator):.3f} ms")

    # Rust binaries: size, and init of the other functions.
    init_only = {}
    for binary in [b for b in args.init_only.split(",") if b]:
        samples = []
        for _ in range(args.processes):
            instance = start("rust", binary)
            samples.append(instance.init_ms)
            instance.stop()
        init_only[binary] = samples

    report(results, impls, init_only, args)
    binaries = [f for f in FUNCTIONS if "rust" in impls] + list(init_only)
    modelled = init_over_network(args, base_env, binaries)
    report_modelled(modelled, results, init_only, args)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {f"{i}/{f}": v for (i, f), v in results.items()}
            | {"init_only": init_only, "init_over_network": modelled}, indent=1))  # fmt: skip
    proxy.shutdown()


def secret_init(args, base_env: dict[str, str]) -> None:
    """Init as in AWS, where the key comes from Secrets Manager (one HTTPS round trip, here 40 ms
    of added delay in front of moto) while argon2 parameters other than the defaults make the
    hasher compute its dummy hash at start-up: the two can overlap."""
    import boto3  # moto's dependency, in .venv

    client = boto3.client(
        "secretsmanager", endpoint_url=args.aws, region_name="us-east-1",
        aws_access_key_id="localDevOnly", aws_secret_access_key="localDevOnly",
    )  # fmt: skip
    arn = client.create_secret(
        Name=f"bench-{uuid.uuid4().hex[:8]}", SecretString="x" * 48
    )["ARN"]
    secrets = DynamoProxy(args.aws, delay_ms=40)
    threading.Thread(target=secrets.serve_forever, daemon=True).start()
    env = {k: v for k, v in base_env.items() if k != "HMAC_KEY"}
    env |= {
        "HMAC_KEY_SECRET_ARN": arn,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://127.0.0.1:{secrets.server_address[1]}",
        "ARGON2_MEMORY_KIB": "65536",
        "AWS_LAMBDA_FUNCTION_NAME": "login",
    }
    samples = []
    for _ in range(args.processes):
        instance = Instance([str(RUST_DIR / "login")], env, secrets)
        samples.append(instance.init_ms)
        instance.stop()
    print("login init with the key from Secrets Manager (+40 ms) and argon2 m=65536: "
          "min {:.1f} p50 {:.1f} p95 {:.1f} ms".format(*spread(samples)))  # fmt: skip
    secrets.shutdown()


def sequential_round_trips(intervals: list[tuple[float, float, str]]) -> int:
    """The longest chain of calls each of which started after the one before it ended: the
    round trips a cold start waits for one after the other (concurrent calls count once)."""
    ordered = sorted(intervals)
    depth: list[int] = []
    for i, (start, _, _) in enumerate(ordered):
        before = [depth[j] for j in range(i) if ordered[j][1] <= start]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def init_over_network(args, base_env: dict[str, str], binaries: list[str]) -> dict[str, dict]:
    """Each binary's init as in AWS: the HMAC key and the access-token keyset in Secrets Manager
    (by ARN, as the template configures them), every AWS endpoint (Secrets Manager, DynamoDB,
    SQS, SES) behind a proxy that adds `--round-trip-ms` to each call, as a network would. The
    proxies record each call, so the round trips a cold start waits for come from the calls
    made, not from reading the code."""
    import boto3  # moto's dependency, in .venv

    client = boto3.client(
        "secretsmanager", endpoint_url=args.aws, region_name="us-east-1",
        aws_access_key_id="localDevOnly", aws_secret_access_key="localDevOnly",
    )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    hmac_arn = client.create_secret(Name=f"bench-hmac-{tag}", SecretString="k" * 48)["ARN"]
    keyset = (ROOT / base_env["TOKEN_KEYS_FILE"]).read_text()
    keys_arn = client.create_secret(Name=f"bench-keys-{tag}", SecretString=keyset)["ARN"]
    aws = DynamoProxy(args.aws, delay_ms=args.round_trip_ms)
    dynamodb = DynamoProxy(args.ddb, delay_ms=args.round_trip_ms)
    for proxy in (aws, dynamodb):
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
    aws_url = f"http://127.0.0.1:{aws.server_address[1]}"
    env = {k: v for k, v in base_env.items() if k not in ("HMAC_KEY", "TOKEN_KEYS_FILE")}
    env |= {
        "HMAC_KEY_SECRET_ARN": hmac_arn,
        "TOKEN_KEYS_SECRET_ARN": keys_arn,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws_url,
        "AWS_ENDPOINT_URL_SQS": aws_url,
        "AWS_ENDPOINT_URL_SESV2": aws_url,
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{dynamodb.server_address[1]}",
    }
    modelled = {}
    for binary in binaries:
        samples, trips, calls = [], set(), set()
        for _ in range(args.processes):
            aws.take_intervals(), dynamodb.take_intervals()
            instance = Instance([str(RUST_DIR / binary)], {**env, "AWS_LAMBDA_FUNCTION_NAME": binary}, aws)
            samples.append(instance.init_ms)
            made = aws.take_intervals() + dynamodb.take_intervals()  # before the first request
            instance.stop()
            trips.add(sequential_round_trips(made))
            calls.add(tuple(sorted(target for _, _, target in made)))
        if len(trips) != 1 or len(calls) != 1:
            raise SystemExit(f"{binary}: its cold start made different calls in different processes: {calls}")
        modelled[binary] = {"init": samples, "round_trips": trips.pop(), "calls": list(calls.pop())}
    for proxy in (aws, dynamodb):
        proxy.shutdown()
    return modelled


def report_modelled(modelled, results, init_only, args) -> None:
    print()
    print(f"Init over a modelled network: the keys in Secrets Manager, {args.round_trip_ms:g} ms added to "
          f"every AWS call (ms, {args.processes} fresh processes per row):")  # fmt: skip
    print()
    print("| Rust binary | AWS calls before the first request | sequential round trips "
          "| init p50, loopback | init p50, modelled network | init p95, modelled network |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for binary, row in modelled.items():
        local = results[("rust", binary)]["init"] if ("rust", binary) in results else init_only[binary]
        names = ", ".join(call.split(".")[-1] for call in row["calls"]) or "none"
        _, p50, p95 = spread(row["init"])
        print(f"| {binary} | {names} | {row['round_trips']} | {statistics.median(local):.2f} | {p50:.2f} | {p95:.2f} |")


def report(results, impls, init_only, args) -> None:
    med = statistics.median
    print()
    print(f"Cold: {args.processes} fresh processes per row; warm: {args.warm} invocations (profile), "
          f"{args.warm_argon2} (register, login). Times in ms, memory in MB (VmHWM).")  # fmt: skip
    print()
    print("| impl | function | init min | init p50 | init p95 | 1st p50 | 2nd p50 | warm p50 | warm p99 "
          "| 1st / warm | outside DynamoDB p50 | RSS init | RSS 1st | RSS warm |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for function in FUNCTIONS:
        for impl in impls:
            r = results[(impl, function)]
            warm = med(r["warm"])
            print(
                f"| {impl} | {function} | {cells(spread(r['init']))} | {med(r['first']):.1f} | {med(r['second']):.1f} | "
                f"{warm:.1f} | {percentile(r['warm'], 0.99):.1f} | {med(r['first']) / warm:.2f} | "
                f"{med(r['outside']):.2f} | {med(r['hwm_init']):.1f} | {med(r['hwm_first']):.1f} | "
                f"{max(r['hwm_warm']):.1f} |"
            )
    if "rust" in impls and len(impls) > 1:
        print()
        print("Rust / Node (median against median; below 1: Rust is faster or smaller):")
        print()
        print("| function | vs | init | 1st invocation | warm p50 | RSS after warm |")
        print("|---|---|---|---|---|---|")
        for function in FUNCTIONS:
            rust = results[("rust", function)]
            for impl in impls[1:]:
                node = results[(impl, function)]
                print(
                    f"| {function} | {impl} | {med(rust['init']) / med(node['init']):.3f} | "
                    f"{med(rust['first']) / med(node['first']):.2f} | "
                    f"{med(rust['warm']) / med(node['warm']):.2f} | "
                    f"{max(rust['hwm_warm']) / max(node['hwm_warm']):.2f} |"
                )
    if init_only or "rust" in impls:
        print()
        print("| Rust binary | size MB | init min | init p50 | init p95 |")
        print("|---|---|---|---|---|")
        rows = {f: results[("rust", f)]["init"] for f in FUNCTIONS if ("rust", f) in results}
        rows.update(init_only)
        for binary, samples in rows.items():
            size = (RUST_DIR / binary).stat().st_size / 1e6
            print(f"| {binary} | {size:.2f} | {cells(spread(samples))} |")


if __name__ == "__main__":
    main()
