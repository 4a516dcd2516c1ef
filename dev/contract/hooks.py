"""Schemathesis hooks for the Accounts API, loaded by dev/contract/run.sh (SCHEMATHESIS_HOOKS).

Authentication: a protected operation gets the access token of an account this hook registers
itself. Tests end sessions (logout, DELETE /sessions/{id}) and delete accounts, so a token is
used for a few seconds at most and fetched anew after any 401, and after a 429 (wrong current
passwords throttle the account, as they should). Registering rather than logging in keeps the
fetch clear of the login throttle, which the tests drive on purpose. A request that
carries a token this API issued during the run (a stateful link passing on what register,
login or refresh answered) keeps it; a generated one is replaced.
"""

import json
import os
import threading
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["CONTRACT_BASE_URL"]
PASSWORD = "schemathesis fixture password"
ISSUED: set[str] = set()
ISSUED_LOCK = threading.Lock()


def register_account() -> str:
    body = json.dumps({"email": f"contract-{uuid.uuid4().hex}@example.com", "password": PASSWORD})
    request = urllib.request.Request(
        f"{BASE_URL}/register",
        data=body.encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["access_token"]


@schemathesis.auth(refresh_interval=5, retry_on=[401, 429]).skip_for(operation_id=["register", "login", "refresh"])
class FreshAccount:
    def get(self, case, context):
        return register_account()

    def set(self, case, data, context):
        headers = case.headers
        presented = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        with ISSUED_LOCK:
            keep = isinstance(presented, str) and presented.removeprefix("Bearer ") in ISSUED
        if not keep:
            for name in [k for k in headers if k.lower() == "authorization"]:
                del headers[name]
            headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(context, case, response):
    """Remembers every access token the API hands out, so that links may pass it on."""
    if response.status_code in (200, 201):
        try:
            token = json.loads(response.content).get("access_token")
        except (ValueError, AttributeError):
            return
        if isinstance(token, str):
            with ISSUED_LOCK:
                ISSUED.add(token)


@schemathesis.hook
def map_body(context, body):
    """Re-authentication (`current_password` of PUT /password, DELETE /profile, an email change)
    gets the fixture accounts' password, so that those operations reach what they do rather
    than answer every generated password 401 invalid_credentials. A value of another type is
    left alone: a case built to be invalid stays invalid."""
    if isinstance(body, dict) and isinstance(body.get("current_password"), str):
        body = {**body, "current_password": PASSWORD}
    return body


@schemathesis.hook
def filter_body(context, body):
    """Leaves out bodies that are not UTF-8.

    `cargo lambda watch` cannot put such a body into an event and answers 500 itself, without
    calling the function. API Gateway delivers it base64-encoded, and the functions answer
    `400 malformed_json`: the handler test `register/binary-body` (events/) holds that, and
    docs/upstream/cargo-lambda-non-utf8-body.md is the reduction for upstream.
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _documented_codes() -> dict[tuple[str, str, str], set[str]]:
    """(METHOD, path, status) → the error codes docs/openapi.yaml lists for that answer."""
    import pathlib

    import yaml

    document = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text())
    responses = document["components"]["responses"]
    codes = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                if "$ref" in response:
                    response = responses[response["$ref"].rsplit("/", 1)[1]]
                if "x-error-codes" in response:
                    codes[(method.upper(), path, status)] = set(response["x-error-codes"])
    return codes


DOCUMENTED_CODES = _documented_codes()


@schemathesis.check
def error_code_is_documented(ctx, response, case):
    """Every error answer's `code` is one its operation lists for that status (`x-error-codes`):
    the per-route exactness the document keeps while every error body is the one `Error` type."""
    if response.status_code < 400:
        return None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None  # not the envelope: the router's own 404, or a check of its own
    key = (case.operation.method.upper(), case.operation.path, str(response.status_code))
    allowed = DOCUMENTED_CODES.get(key)
    assert allowed is not None and code in allowed, (
        f"{key[0]} {key[1]} answered {key[2]} {code!r}; the document lists {sorted(allowed or [])}"
    )
    return None
