"""Writes events/: API Gateway HTTP API (payload format 2.0) requests for every route.

The payloads are checked in; `make docs` runs this again (a test checks events/ is what it writes):

    python3 dev/make_events.py

Every route of template.yaml gets its **standard events** without being named here: `ok` (the
route's method and path, the first request example of its docs/openapi.yaml operation as the
body, the placeholder bearer token if the operation takes one) and, where the operation requires
a bearer token, `missing-token` and `expired-token`. Below them, `special_events` holds the cases a
route needs beyond those (an event file written by hand in events/<route>/ works too).

Bad-token cases are real JWTs signed with the development key from dev/local.env (or with other
keys/algorithms where that is the point), so each one fails for exactly the reason its name says.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import pathlib
import re
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import cfn  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
API_ID = "a1b2c3d4e5"
HOST = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
PLACEHOLDER = "REPLACE_WITH_AN_ACCESS_TOKEN_FROM_REGISTER_OR_LOGIN"
FAR_FUTURE = 4_102_444_800  # 2100-01-01
PAST = 1_577_836_800  # 2020-01-01
SUB = "6f1c2d4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f"


def dev_key() -> bytes:
    for line in (ROOT / "dev" / "local.env").read_text().splitlines():
        if line.startswith("HMAC_KEY="):
            return line.split("=", 1)[1].encode()
    raise SystemExit("HMAC_KEY not found in dev/local.env")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict, key: bytes, alg: str = "HS256") -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(key, f"{header}.{payload}".encode(), digest).digest()
    return f"{header}.{payload}.{b64(signature)}"


def claims(**overrides: object) -> dict:
    base = {
        "sid": "2b9a9f0e-51c4-4c5e-9d7e-3f1f6a0b8c2d",
        "sub": SUB,
        "iat": PAST,
        "nbf": PAST,
        "exp": FAR_FUTURE,
        "iss": "accounts-api",
        "aud": "accounts-api",
        "jti": "0b6f9d3e-1111-4222-8333-944455556666",
    }
    base.update(overrides)
    return base


def event(method: str, path: str, body: str | None = None, headers: dict | None = None) -> dict:
    all_headers = {
        "accept": "application/json",
        "host": HOST,
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if body is not None:
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(body.encode()))
    all_headers.update(headers or {})
    payload = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": HOST,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "Fz3xVhPLoAMEVxg=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "23/Nov/2026:21:47:07 +0000",
            "timeEpoch": 1795384027000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        payload["body"] = body
    return payload


# The web client's origin under `make dev` (dev/local.env's ALLOWED_ORIGINS).
WEB_ORIGIN = "http://localhost:9002"


def preflight(path: str, origin: str) -> dict:
    """A browser's CORS preflight for a JSON POST to `path` from `origin` (routed by API Gateway
    as `OPTIONS /{proxy+}`)."""
    payload = event(
        "OPTIONS",
        path,
        None,
        {
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    payload["routeKey"] = payload["requestContext"]["routeKey"] = "OPTIONS /{proxy+}"
    payload["pathParameters"] = {"proxy": path.lstrip("/")}
    return payload


def post(path: str, body: object, **headers: str) -> dict:
    text = body if isinstance(body, str) else json.dumps(body)
    return event("POST", path, text, headers)


def profile(token: str | None = None, authorization: str | None = None) -> dict:
    return bearer_event("GET", "/profile", token, authorization)


def bearer_event(
    method: str,
    path: str,
    token: str | None = None,
    authorization: str | None = None,
    route: str | None = None,
) -> dict:
    if token is not None:
        authorization = f"Bearer {token}"
    payload = event(method, path, None, {"authorization": authorization} if authorization else {})
    if route is not None:  # a route with a path parameter: /sessions/{id}
        payload["routeKey"] = payload["requestContext"]["routeKey"] = f"{method} {route}"
        payload["pathParameters"] = {"id": path.rsplit("/", 1)[1]}
    return payload


def bearer_json(method: str, path: str, body: object, **headers: str) -> dict:
    """A request with a JSON body and the placeholder bearer token."""
    text = json.dumps(body)
    return event(method, path, text, {"authorization": f"Bearer {PLACEHOLDER}", **headers})


# Placeholders the handler tests replace with real tokens of a real session.
REFRESH_PLACEHOLDER = "REPLACE_WITH_A_REFRESH_TOKEN_FROM_REGISTER_LOGIN_OR_REFRESH"
SESSION_ID = "7d444840-9dc0-41f2-a7a2-4b2fc5f8e1a3"


# Client-controlled headers that made lambda_http 1.3.2 panic while converting the event: each
# is sent to every route.
HOSTILE_HEADERS = {
    "forwarded-proto-space": {"x-forwarded-proto": "a b"},
    "forwarded-proto-digit": {"x-forwarded-proto": "1"},
    "forwarded-proto-empty": {"x-forwarded-proto": ""},
    "host-space": {"host": "exa mple.com"},
    "host-open-bracket": {"host": "[::1"},
    "host-port-out-of-range": {"host": "example.com:99999"},
}


def hostile(base: dict, headers: dict) -> dict:
    payload = json.loads(json.dumps(base))
    payload["headers"].update(headers)
    return payload


@functools.cache
def openapi() -> dict:
    return yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


def resolve(node: dict) -> dict:
    """A `$ref` of docs/openapi.yaml followed to what it names."""
    document = openapi()
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


@functools.cache
def _standard_events() -> dict[str, str]:
    return {name: text(payload) for name, payload in _build_standard_events().items()}


def standard_events() -> dict[str, dict]:
    """`ok` for every template route; `missing-token` and `expired-token` where a bearer token is
    required (a fresh copy: callers may change it)."""
    return {name: json.loads(payload) for name, payload in _standard_events().items()}


def _build_standard_events() -> dict[str, dict]:
    """`ok` for every template route; `missing-token` and `expired-token` where a bearer token is
    required."""
    document = openapi()
    expired = jwt(claims(exp=PAST + 900), dev_key())
    events = {}
    for method, route, binary in sorted(cfn.function_routes()):
        operation = document["paths"][route][method.lower()]
        declared = [*document["paths"][route].get("parameters", []), *operation.get("parameters", [])]
        parameters = {
            p["name"]: str(p["example"]) for p in map(resolve, declared) if p["in"] == "path"
        }
        path = re.sub(r"\{(\w+)\}", lambda m: parameters[m.group(1)], route)
        body = None
        if operation.get("requestBody", {}).get("required"):  # an optional body is left out
            examples = operation["requestBody"]["content"]["application/json"]["examples"]
            body = json.dumps(next(iter(examples.values()))["value"])
        security = operation.get("security", document["security"])

        def request(authorization: str | None) -> dict:
            headers = {"authorization": authorization} if authorization else {}
            payload = event(method, path, body, headers)
            payload["routeKey"] = payload["requestContext"]["routeKey"] = f"{method} {route}"
            if parameters:
                payload["pathParameters"] = parameters
            return payload

        bearer = {"bearerAuth": []} in security
        events[f"{binary}/ok"] = request(f"Bearer {PLACEHOLDER}" if bearer else None)
        if bearer and {} not in security:
            events[f"{binary}/missing-token"] = request(None)
            events[f"{binary}/expired-token"] = request(f"Bearer {expired}")
    return events


def all_events() -> dict[str, dict]:
    return {**standard_events(), **special_events()}


def special_events() -> dict[str, dict]:
    """The cases routes need beyond their standard events."""
    events = standard_events()
    key = dev_key()
    other_key = b"some-other-key-that-is-at-least-32-bytes-long"
    password = "correct horse battery staple"
    good = jwt(claims(), key)
    head, payload, signature = good.split(".")
    events |= {
        # POST /register
        "register/ok-without-name": post(
            "/register", {"email": "grace@example.com", "password": password}
        ),
        "register/shape-invalid-email": post(
            "/register", {"email": "ada.example.com", "password": password}
        ),
        "register/shape-short-password": post(
            "/register", {"email": "ada@example.com", "password": "short"}
        ),
        "register/shape-missing-fields": post("/register", {}),
        "register/shape-wrong-types": post(
            "/register", {"email": 42, "password": ["not", "a", "string"], "name": False}
        ),
        "register/malformed-json": post("/register", '{"email": "ada@example.com", "password": '),
        "register/not-json": post(
            "/register", "email=ada@example.com&password=x", **{"content-type": "text/plain"}
        ),
        "register/too-large": post(
            "/register", {"email": "ada@example.com", "password": password, "name": "x" * 17000}
        ),
        "register/shape-unknown-field": post(
            "/register", {"email": "ada@example.com", "password": password, "nmae": "Ada"}
        ),
        "register/duplicate-key": post(
            "/register",
            '{"email": "ada@example.com", "password": "correct horse battery staple", '
            '"email": "eve@example.com"}',
        ),
        "register/shape-huge-number": post(
            "/register", '{"email": "ada@example.com", "password": ' + "9" * 360 + "}"
        ),
        "register/gzip-encoded": post(
            "/register",
            {"email": "ada@example.com", "password": password},
            **{"content-encoding": "gzip"},
        ),
        "register/common-password": post(
            "/register", {"email": "ada@example.com", "password": "Password1"}
        ),
        "register/password-is-email": post(
            "/register", {"email": "ada.lovelace@example.com", "password": "Ada.Lovelace"}
        ),
        "register/invisible-name": post(
            "/register",
            {"email": "ada@example.com", "password": password, "name": "Ada\u202egnp.exe"},
        ),
        "register/ip-address-email": post(
            "/register", {"email": "rt@127.0.0.1", "password": password}
        ),
        "register/idn-email": post(
            "/register", {"email": "IDN@Bücher.example", "password": password}
        ),
        # POST /login
        "login/wrong-password": post(
            "/login", {"email": "ada.lovelace@example.com", "password": "wrong horse battery staple"}
        ),
        "login/unknown-email": post(
            "/login", {"email": "nobody@example.com", "password": "wrong horse battery staple"}
        ),
        "login/shape-missing-password": post("/login", {"email": "ada.lovelace@example.com"}),
        "login/malformed-json": post("/login", "{not json"),
        # The web client's sign-in (dev/local.env allows its origin) and one from another site.
        "login/cookie": post(
            "/login",
            {"email": "ada.lovelace@example.com", "password": password, "refresh_token_delivery": "cookie"},
            origin=WEB_ORIGIN,
        ),
        "login/cookie-other-origin": post(
            "/login",
            {"email": "ada.lovelace@example.com", "password": password, "refresh_token_delivery": "cookie"},
            origin="https://evil.example",
        ),
        "login/shape-unknown-delivery": post(
            "/login",
            {"email": "ada.lovelace@example.com", "password": password, "refresh_token_delivery": "header"},
        ),
        # OPTIONS /{proxy+}: CORS preflights, from the web client's origin and from another site.
        "preflight/ok": preflight("/login", WEB_ORIGIN),
        "preflight/other-origin": preflight("/login", "https://evil.example"),
        # GET /profile
        "profile/not-bearer": profile(authorization="Basic YWRhOmNvcnJlY3QgaG9yc2U="),
        "profile/not-yet-valid-token": profile(jwt(claims(nbf=FAR_FUTURE - 60), key)),
        "profile/alg-none-token": profile(
            f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."
        ),
        "profile/tampered-token": profile(
            f"{head}.{b64(json.dumps(claims(sub='someone-else')).encode())}.{signature}"
        ),
        "profile/wrong-key-token": profile(jwt(claims(), other_key)),
        "profile/wrong-algorithm-token": profile(jwt(claims(), key, alg="HS512")),
        "profile/wrong-issuer-token": profile(jwt(claims(iss="someone-else"), key)),
        "profile/wrong-audience-token": profile(jwt(claims(aud="someone-else"), key)),
        "profile/string-exp-token": profile(jwt(claims(exp=str(FAR_FUTURE)), key)),
        "profile/unknown-user-token": profile(good),
        # API Gateway joins a repeated header with commas.
        "profile/two-authorization-headers": profile(authorization=f"Bearer {good}, Bearer {good}"),
        "profile/odd-query-string": {
            **profile(good),
            "rawQueryString": "q=a b&%zz=ü&x=\"<>\\^`{|}",
        },
    }
    events.update(
        {
            # POST /refresh
            "refresh/malformed-token": post("/refresh", {"refresh_token": "not-a-refresh-token"}),
            "refresh/forged-token": post(
                "/refresh",
                {"refresh_token": f"v1.{SUB}.{SESSION_ID}.0.{b64(b'x' * 32)}"},
            ),
            # Schema-valid (a browser sends `{}` with its refresh cookie), but without the cookie
            # the token is missing: 400 validation_failed.
            "refresh/missing-token": post("/refresh", {}),
            "refresh/access-token-instead": post("/refresh", {"refresh_token": good}),
            # POST /logout
            "logout/refresh-token": post("/logout", {"refresh_token": REFRESH_PLACEHOLDER}),
            "logout/unknown-refresh-token": post(
                "/logout",
                {"refresh_token": f"v1.{SUB}.{SESSION_ID}.0.{b64(b'x' * 32)}"},
            ),
            "logout/no-credentials": event("POST", "/logout"),
            "logout/expired-token": bearer_event(
                "POST", "/logout", jwt(claims(exp=PAST + 900), key)
            ),
            # GET /sessions
            # DELETE /sessions/{id}
            "end-session/malformed-id": bearer_event(
                "DELETE", "/sessions/not-a-session-id", PLACEHOLDER, route="/sessions/{id}"
            ),
            # PATCH /profile
            "update-profile/change-email": bearer_json(
                "PATCH",
                "/profile",
                {"email": "Ada.King@Example.com", "current_password": password},
            ),
            "update-profile/clear-name": bearer_json("PATCH", "/profile", {"name": None}),
            "update-profile/shape-email-without-password": bearer_json(
                "PATCH", "/profile", {"email": "ada.king@example.com"}
            ),
            "update-profile/shape-nothing-to-change": bearer_json("PATCH", "/profile", {}),
            "update-profile/stale-if-match": bearer_json(
                "PATCH", "/profile", {"name": "Ada King"}, **{"if-match": '"0"'}
            ),
            # PUT /password
            "change-password/common-new-password": bearer_json(
                "PUT", "/password", {"current_password": password, "new_password": "Password1"}
            ),
            "change-password/shape-missing-fields": bearer_json("PUT", "/password", {}),
            # DELETE /profile
            "delete-account/shape-missing-password": bearer_json("DELETE", "/profile", {}),
            # POST /email/confirm and POST /password/reset: the typed-code form, a token that is
            # no token, and bodies with both forms or neither
            "confirm-email/code": post(
                "/email/confirm", {"email": "ada@example.com", "code": "4021 5893"}
            ),
            "confirm-email/not-a-token": post("/email/confirm", {"token": "not-a-token"}),
            "confirm-email/shape-both-forms": post(
                "/email/confirm",
                {"token": "AQ0NfD9OWxpPfppDKp8NHGuOE2g1yR2lqdcO0Y0gxv8xKQ", "code": "40215893"},
            ),
            "confirm-email/shape-email-without-code": post(
                "/email/confirm", {"email": "ada@example.com"}
            ),
            "reset-password/code": post(
                "/password/reset",
                {"email": "ada@example.com", "code": "40215893", "new_password": "a brand new passphrase"},
            ),
            "reset-password/shape-missing-password": post(
                "/password/reset", {"token": "Ag0NfD9OWxpPfppDKp8NHGuOE2g1yR2lqdcO0Y0gxv8xKQ"}
            ),
            "reset-password/common-new-password": post(
                "/password/reset",
                {"token": "Ag0NfD9OWxpPfppDKp8NHGuOE2g1yR2lqdcO0Y0gxv8xKQ", "new_password": "Password1"},
            ),
            "forgot-password/shape-invalid-email": post("/password/forgot", {"email": "not an address"}),
            # DELETE /sessions
        }
    )
    events["register/invalid-base64-body"] = {
        **post("/register", {"email": "ada@example.com", "password": password}),
        "body": "not base64!",
        "isBase64Encoded": True,
    }
    # A body that is not UTF-8, labelled JSON: API Gateway delivers it base64-encoded. (The local
    # emulator cannot carry it at all and answers 500 itself; see dev/contract/hooks.py.)
    events["register/binary-body"] = {
        **post("/register", {"email": "ada@example.com", "password": password}),
        "body": base64.b64encode(b"k\xff\xfe{").decode(),
        "isBase64Encoded": True,
    }
    for route, base in [
        ("register", events["register/ok"]),
        ("login", events["login/ok"]),
        ("profile", events["profile/unknown-user-token"]),
    ]:
        for trigger, headers in HOSTILE_HEADERS.items():
            events[f"{route}/hostile-{trigger}"] = hostile(base, headers)
    return {name: e for name, e in events.items() if name not in _standard_events()}


def text(payload: dict) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=True) + "\n"


def main() -> None:
    events = all_events()
    for name, payload in events.items():
        path = EVENTS / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text(payload), encoding="utf-8")
    print(f"wrote {len(events)} events under {EVENTS}")


if __name__ == "__main__":
    main()
