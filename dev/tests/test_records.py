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
import re
from collections import defaultdict

import pytest

import cfn

ROOT = cfn.ROOT
TEMPLATE = cfn.load_template()
FUNCTIONS = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function")
ROUTES = cfn.function_routes(TEMPLATE)  # {(METHOD, path, binary)}
RECORDS = ROOT / "target" / "handler-records"

# The memory that buys a full vCPU on Lambda, for routes whose every success hashes.
FULL_VCPU_MB = 1769


def _records():
    files = sorted(RECORDS.glob("*.tsv")) if RECORDS.is_dir() else []
    if not files:
        pytest.fail(f"no records in {RECORDS}: `make test` runs the handler tests first")
    dynamodb: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    responses: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for file in files:
        for line in file.read_text().splitlines():
            kind, route, *rest = line.split("\t")
            if kind == "dynamodb":
                action, prefix = rest
                dynamodb[route][action].add(prefix)
            elif kind == "response" and rest[0] != "-":
                responses[route].append((int(rest[0]), int(rest[1])))
    return dynamodb, responses


DYNAMODB, RESPONSES = _records() if RECORDS.is_dir() else ({}, {})


def _binary_routes():
    for method, path, binary in sorted(ROUTES):
        (function,) = [
            f for f in FUNCTIONS.values() if f["Metadata"]["BuildProperties"]["Binary"] == binary
        ]
        yield f"{method} {path}", binary, function


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _dynamodb_statements(function):
    """(actions without the dynamodb: prefix, fenced key prefixes or None) per statement."""
    role = TEMPLATE["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = _as_list(statement["Action"])
            assert statement["Effect"] == "Allow"
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


ROUTE_IDS = [binary for _, binary, _ in _binary_routes()]


@pytest.mark.parametrize("route,binary,function", list(_binary_routes()), ids=ROUTE_IDS)
def test_handler_tests_served_the_route_and_saw_it_succeed(route, binary, function):
    assert RESPONSES.get(route), f"no handler test of functions/{binary} served {route}"
    assert any(200 <= status < 300 for status, _ in RESPONSES[route]), route


@pytest.mark.parametrize("route,binary,function", list(_binary_routes()), ids=ROUTE_IDS)
def test_each_role_grants_exactly_the_dynamodb_actions_its_function_issues(route, binary, function):
    """Least privilege, proven from recorded calls: nothing missing, nothing extra (a route that
    never calls DynamoDB gets no DynamoDB statement at all)."""
    granted = set()
    for actions, _ in _dynamodb_statements(function):
        granted |= actions
    assert granted == set(DYNAMODB.get(route, {})), binary


@pytest.mark.parametrize("route,binary,function", list(_binary_routes()), ids=ROUTE_IDS)
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


@pytest.mark.parametrize("route,binary,function", list(_binary_routes()), ids=ROUTE_IDS)
def test_routes_whose_every_success_hashes_get_a_full_vcpu_and_no_other(route, binary, function):
    """Memory buys CPU on Lambda; argon2id is CPU-bound. A route that hashes or verifies on every
    success gets 1769 MB (one vCPU); one that does so rarely (an email change) or never keeps
    the default."""
    successes = [hashes for status, hashes in RESPONSES[route] if 200 <= status < 300]
    every_success_hashes = bool(successes) and all(hashes > 0 for hashes in successes)
    default = TEMPLATE["Globals"]["Function"]["MemorySize"]
    memory = function["Properties"].get("MemorySize", default)
    assert default < FULL_VCPU_MB
    assert (memory >= FULL_VCPU_MB) == every_success_hashes, (binary, memory, successes)


# ------------------------------------------------------------------ log hygiene

SECRET_SHAPES = {
    "a JWT": re.compile(r"eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*"),
    "an argon2 hash": re.compile(r"\$argon2(?:id|i|d)\$"),
    "a refresh token": re.compile(r"v1\.[0-9a-f-]{36}\.[0-9a-f-]{36}\.\d+\."),
    # A header logged as a field, or a credential after its scheme.
    "an authorization header": re.compile(r'(?i)"authorization"\s*:|\b(?:bearer|basic)\s+[\w+/=.-]{8,}'),
    "a session seed": re.compile(r'"seed"'),
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
    (key,) = re.findall(r"^TOKEN_SIGNING_KEY=(.+)$", env, re.M)
    secrets[key] = "the development signing key"
    return secrets


def _logs():
    files = sorted(RECORDS.glob("*.log"))
    api_log = ROOT / ".local" / "api-test.log"  # the local API's functions under make test
    return files + ([api_log] if api_log.is_file() else [])


def test_the_logs_were_recorded_for_every_route():
    completed = defaultdict(int)
    for file in sorted(RECORDS.glob("*.log")):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if record.get("message") == "request completed":
                completed[record.get("span", {}).get("route")] += 1
    for method, path, _ in ROUTES:
        assert completed[f"{method} {path}"] > 0, f"no log line of {method} {path} recorded"


def test_no_log_line_holds_a_secret():
    """Every line a handler logged in every handler test (all levels, through the production
    subscriber), and every line the local API's functions logged under make test: no secret by
    shape (tokens, hashes, headers) or by value (the test passwords, the development key)."""
    fixed = _fixed_secrets()
    assert len(fixed) >= 5, fixed
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
