"""What the handler tests recorded, held against the template: least privilege, key fences, memory
sizes and log hygiene, derived from what every route's handler actually did.

`cargo test` (run by `make test` first) records through `shared::testing` (see its `record`
module) under target/handler-records/: every DynamoDB call a handler made, with its IAM action
and the partition-key prefix of each item; every argon2 hash or verification; every answer; and
every log line, written by the production JSON subscriber with all levels on. No list here names
a route, a fence or a hashing function: a new route is covered by its own handler tests.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections import defaultdict

import pytest

import cfn

ROOT = cfn.ROOT
TEMPLATE = cfn.load_template()
FUNCTIONS = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function")
ROUTES = cfn.http_api_routes(TEMPLATE)  # {(METHOD, path, binary)}, the CORS preflight included
RECORDS = ROOT / "target" / "handler-records"

# The memory that buys a full vCPU on Lambda, for routes whose every success hashes.
FULL_VCPU_MB = 1769


def _records():
    files = sorted(RECORDS.glob("*.tsv")) if RECORDS.is_dir() else []
    if not files:
        pytest.fail(f"no records in {RECORDS}: `make test` runs the handler tests first")
    dynamodb: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    services: dict[str, set[str]] = defaultdict(set)  # route -> {"sqs:SendMessage", ...}
    responses: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for file in files:
        for line in file.read_text().splitlines():
            kind, route, *rest = line.split("\t")
            if kind == "dynamodb":
                action, prefix = rest
                dynamodb[route][action].add(prefix)
            elif kind in ("sqs", "ses"):
                services[route].add(f"{kind}:{rest[0]}")
            elif kind == "response":
                responses[route].append((rest[0], int(rest[1])))
    return dynamodb, services, responses


DYNAMODB, SERVICES, RESPONSES = _records() if RECORDS.is_dir() else ({}, {}, {})


def _functions():
    """(route key, binary, function) for every function: "METHOD path" for an HTTP route, the
    binary's name for a function no HTTP request calls (its `invocation` span's route)."""
    for binary, function in sorted(
        (f["Metadata"]["BuildProperties"]["Binary"], f) for f in FUNCTIONS.values()
    ):
        routes = [f"{m} {p}" for m, p, b in sorted(ROUTES) if b == binary]
        yield (routes[0] if routes else binary), binary, function


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements(function):
    """(policy name, statement) of the function's role."""
    role = TEMPLATE["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            yield policy["PolicyName"], statement


def _dynamodb_statements(function):
    """(actions without the dynamodb: prefix, fenced key prefixes or None) per statement."""
    for name, statement in _statements(function):
        actions = _as_list(statement["Action"])
        if name != "dynamodb":
            assert not any(a.startswith("dynamodb:") for a in actions), name
            continue
        assert all(a.startswith("dynamodb:") and "*" not in a for a in actions)
        assert statement["Resource"] == {"Fn::GetAtt": ["UsersTable", "Arn"]}
        fence = None
        if "Condition" in statement:
            (operator, keys), = statement["Condition"].items()
            assert operator == "ForAllValues:StringLike"
            assert set(keys) == {"dynamodb:LeadingKeys"}
            fence = {p.removesuffix("#*") for p in keys["dynamodb:LeadingKeys"]}
            assert all(p.endswith("#*") for p in keys["dynamodb:LeadingKeys"])
        yield {a.removeprefix("dynamodb:") for a in actions}, fence


ALL = list(_functions())
IDS = [binary for _, binary, _ in ALL]
HTTP = [f for f in ALL if " " in f[0]]


@pytest.mark.parametrize("route,binary,function", ALL, ids=IDS)
def test_handler_tests_served_the_function_and_saw_it_succeed(route, binary, function):
    assert RESPONSES.get(route), f"no handler test of functions/{binary} served {route}"
    if route in {f[0] for f in HTTP}:
        assert any(s != "-" and 200 <= int(s) < 300 for s, _ in RESPONSES[route]), route


@pytest.mark.parametrize("route,binary,function", ALL, ids=IDS)
def test_each_role_grants_exactly_the_dynamodb_actions_its_function_issues(route, binary, function):
    """Least privilege, proven from recorded calls: nothing missing, nothing extra (a route that
    never calls DynamoDB gets no DynamoDB statement at all)."""
    granted = set()
    for actions, _ in _dynamodb_statements(function):
        granted |= actions
    assert granted == set(DYNAMODB.get(route, {})), binary


@pytest.mark.parametrize("route,binary,function", ALL, ids=IDS)
def test_each_action_is_fenced_to_exactly_the_key_prefixes_it_touched(route, binary, function):
    """dynamodb:LeadingKeys, proven in both directions for every action: its fence names every
    partition-key prefix the handler touched with it (or IAM would refuse the call) and no other
    (least privilege). So login may write throttle counters and sessions, never an email claim,
    and delete only throttle counters."""
    for actions, fence in _dynamodb_statements(function):
        assert fence is not None, f"{binary}: {sorted(actions)} granted without a key fence"
        for action in actions:
            touched = DYNAMODB.get(route, {}).get(action, set())
            assert "-" not in touched, f"{binary} {action}: a call with no partition key seen"
            assert fence == touched, f"{binary} {action}: fence {fence}, touched {touched}"
    item_rs = (ROOT / "shared/src/store/item.rs").read_text()
    for prefixes in DYNAMODB.get(route, {}).values():
        for prefix in prefixes - {"-"}:
            assert f'format!("{prefix}#' in item_rs, f"{prefix}# is not a key prefix of item.rs"


# What each other service's call needs, on what: the queue for SendMessage, the sender's
# identity (only from MAIL_FROM) for SendEmail.
SERVICE_GRANTS = {
    "sqs:SendMessage": {"Fn::GetAtt": ["MailQueue", "Arn"]},
    "ses:SendEmail": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"},
}
# What Lambda's SQS event source mapping needs of the function's role (not the code's calls).
EVENT_SOURCE_ACTIONS = {
    "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
}


@pytest.mark.parametrize("route,binary,function", ALL, ids=IDS)
def test_each_role_grants_exactly_the_queue_and_mail_calls_its_function_makes(route, binary, function):
    """sqs:SendMessage on the mail queue for the functions whose handlers queued mail, and only
    them; ses:SendEmail, only from the configured sender, for the one that sent; the consumer's
    actions for a function with an SQS event, on that queue."""
    granted = set()
    for name, statement in _statements(function):
        if name == "dynamodb":
            continue
        actions = set(_as_list(statement["Action"]))
        if actions == EVENT_SOURCE_ACTIONS:
            events = function["Properties"].get("Events", {}).values()
            queues = [e["Properties"]["Queue"] for e in events if e["Type"] == "SQS"]
            assert queues == [statement["Resource"]], binary
            continue
        for action in actions:
            assert statement["Resource"] == SERVICE_GRANTS[action], (binary, action)
            if action == "ses:SendEmail":
                assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}}
        granted |= actions
    assert granted == SERVICES.get(route, set()), binary


@pytest.mark.parametrize("route,binary,function", HTTP, ids=[f[1] for f in HTTP])
def test_routes_whose_every_success_hashes_get_a_full_vcpu_and_no_other(route, binary, function):
    """Memory buys CPU on Lambda; argon2id is CPU-bound. A route that hashes or verifies on every
    success gets 1769 MB (one vCPU); one that does so rarely (an email change) or never keeps
    the default."""
    successes = [hashes for status, hashes in RESPONSES[route] if status != "-" and 200 <= int(status) < 300]
    every_success_hashes = bool(successes) and all(hashes > 0 for hashes in successes)
    default = TEMPLATE["Globals"]["Function"]["MemorySize"]
    memory = function["Properties"].get("MemorySize", default)
    assert default < FULL_VCPU_MB
    assert (memory >= FULL_VCPU_MB) == every_success_hashes, (binary, memory, successes)


def test_a_throttled_sign_in_answers_before_any_argon2_work():
    """The login throttle refuses before the password is checked: every 429 the login handler
    tests saw ran no argon2 (the handler test asserts the 429s; this, what they cost)."""
    throttled = [hashes for status, hashes in RESPONSES["POST /login"] if status == "429"]
    assert throttled, "the login handler tests drive the throttle"
    assert all(hashes == 0 for hashes in throttled), throttled


def test_every_failed_sign_in_does_the_same_argon2_work_whether_or_not_the_account_exists():
    """An unknown address is checked against a dummy hash, so that it costs what a wrong
    password costs: every `401` the login handler tests saw (both kinds) ran exactly one argon2
    verification. Without the dummy verification the unknown-address ones would run none."""
    refused = [hashes for status, hashes in RESPONSES["POST /login"] if status == "401"]
    assert len(refused) >= 10, "the login handler tests try wrong passwords and unknown addresses"
    assert all(hashes == 1 for hashes in refused), refused


# ------------------------------------------------------------------ log hygiene

SECRET_SHAPES = {
    "a JWT": re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*"),
    "an argon2 hash": re.compile(r"\$argon2(?:id|i|d)\$"),
    "a refresh token": re.compile(r"v1\.[0-9a-f-]{36}\.[0-9a-f-]{36}\.\d+\."),
    # A header logged as a field, or a credential after its scheme.
    "an authorization header": re.compile(r'(?i)"authorization"\s*:|\b(?:bearer|basic)\s+[\w+/=.-]{8,}'),
    "a session seed": re.compile(r'"seed"'),
    # Mailed links and codes, and their stored hashes: never logged, by field or in a link.
    "a mailed link": re.compile(r"#token=[\w-]{8,}"),
    "a token field": re.compile(r'"(?:token|token_mac|code_mac|new_password)"\s*:'),
    "an emailed code field": re.compile(r'"code"\s*:\s*"[\d -]{8,}"'),
}


def _fixed_secrets() -> dict[str, str]:
    """The passwords the tests and events use, and the development signing key."""
    secrets = {}
    for file in sorted((ROOT / "events").glob("*/*.json")):
        event = json.loads(file.read_text())
        try:
            body = json.loads(event.get("body") or "null")
        except ValueError:
            continue
        if isinstance(body, dict):
            for field, value in body.items():
                if "password" in field and isinstance(value, str) and len(value) >= 8:
                    secrets[value] = f"a password of {file.parent.name}/{file.name}"
    sources = [*ROOT.glob("functions/*/tests/*.rs"), *ROOT.glob("shared/src/testing/*.rs")]
    for file in sources:
        for value in re.findall(
            r'(?i)(?:const \w*password\w*: &str|let \w*password\w*) = "([^"]{8,})"', file.read_text()
        ):
            secrets[value] = f"a password of {file.relative_to(ROOT)}"
    env = (ROOT / "dev" / "local.env").read_text()
    (key,) = re.findall(r"^HMAC_KEY=(.+)$", env, re.M)
    secrets[key] = "the development HMAC key"
    return secrets


def _mailed_secrets() -> dict[str, str]:
    """Every token and code the local SES sent during this `make test` (the mailer's handler
    tests and the end-to-end flows), read from what dev/moto_server.py kept of it."""
    endpoint = os.environ.get("LOCAL_MOTO_ENDPOINT")
    if not endpoint:
        return {}
    with urllib.request.urlopen(f"{endpoint}/local/sent-mail.json", timeout=30) as response:
        sent = json.load(response)
    secrets = {}
    for message in sent:
        for token in re.findall(r"#token=([\w-]+)", message["body"]):
            secrets[token] = f"a mailed token (to {message['to']})"
        for code in re.findall(r"^\s+(\d{8})$", message["body"], re.M):
            secrets[code] = f"a mailed code (to {message['to']})"
    return secrets


def _logs():
    files = sorted(RECORDS.glob("*.log"))
    # The local API's functions (the mailer too) and the mail poller under make test.
    local = [ROOT / ".local" / "api-test.log", ROOT / ".local" / "mail-test.log"]
    return files + [log for log in local if log.is_file()]


def test_the_logs_were_recorded_for_every_route():
    completed = defaultdict(int)
    for file in sorted(RECORDS.glob("*.log")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if record.get("message") == "request completed":
                completed[record.get("span", {}).get("route")] += 1
    for method, path, _ in ROUTES:
        assert completed[f"{method} {path}"] > 0, f"no log line of {method} {path} recorded"
    invocations = 0
    for file in sorted(RECORDS.glob("*.log")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if record.get("message") == "invocation completed":
                invocations += record.get("span", {}).get("route") == "mailer"
    assert invocations > 0, "no log line of the mailer recorded"


def test_no_log_line_holds_a_secret():
    """Every line a handler logged in every handler test (all levels, through the production
    subscriber), and every line the local API's functions logged under make test: no secret by
    shape (tokens, hashes, headers) or by value (the test passwords, the development key)."""
    fixed = _fixed_secrets()
    assert len(fixed) >= 5, fixed
    mailed = _mailed_secrets()
    if os.environ.get("LOCAL_MOTO_ENDPOINT"):
        assert len(mailed) >= 10, "the mail flows sent almost nothing"
    fixed |= mailed
    lines = 0
    for file in _logs():
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            lines += 1
            where = f"{file.relative_to(ROOT)}:{number}: {line[:300]}"
            for what, shape in SECRET_SHAPES.items():
                assert not shape.search(line), f"{what} in {where}"
            for secret, what in fixed.items():
                assert secret not in line, f"{what} in {where}"
    assert lines > 1000, "the handler tests logged almost nothing: was the subscriber installed?"
