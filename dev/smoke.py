"""The smoke test after a deploy: one throwaway account through its whole life against a running
API, checking each answer, and deleting the account whatever happens.

    python3 dev/smoke.py https://<api-id>.execute-api.<region>.amazonaws.com   (make smoke URL=...)

register -> login -> profile -> refresh -> logout (the token dies with its session) -> login ->
delete -> login refused. The address is SES's mailbox simulator (`success+smoke-<id>@
simulator.amazonses.com`): mail the API queues for it is accepted by SES, even in the sandbox,
and reaches no one and hurts no sending reputation. Exit 0 when every step answered as the
contract says; 1 with the failing step, its status and body otherwise. Standard library only.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request


class SmokeFailure(Exception):
    pass


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        headers = {"accept": "application/json", "user-agent": "accounts-api-smoke/1"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the URL given
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise SmokeFailure(f"{method} {path}: no answer ({error})") from error
        elapsed = (time.monotonic() - started) * 1000
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return status, payload, elapsed


def expect(step: str, answer, status: int, code: str | None = None):
    got, payload, elapsed = answer
    error_code = payload.get("error", {}).get("code") if isinstance(payload, dict) else None
    if got != status or (code and error_code != code):
        wanted = f"{status}" + (f" {code}" if code else "")
        raise SmokeFailure(f"{step}: expected {wanted}, got {got}: {str(payload)[:300]}")
    print(f"  ok  {step:<44} {got} in {elapsed:4.0f} ms")
    return payload


def field(step: str, payload, *names: str):
    value = payload
    for name in names:
        if not isinstance(value, dict) or name not in value:
            raise SmokeFailure(f"{step}: the answer has no {'.'.join(names)}: {str(payload)[:300]}")
        value = value[name]
    return value


def run(base: str) -> None:
    api = Api(base)
    tag = secrets.token_hex(6)
    email = f"success+smoke-{tag}@simulator.amazonses.com"
    password = f"smoke {secrets.token_urlsafe(18)}"
    print(f"smoke test of {api.base} with {email}")
    created = False
    try:
        registered = api.call("POST", "/register", {"email": email, "password": password, "name": "Smoke"})
        created = registered[0] in (201, 202)
        if registered[0] == 202:
            raise SmokeFailure(
                "POST /register answered 202: EMAIL_VERIFICATION_REQUIRED is on, so the smoke "
                "account cannot sign in before its mail is read. Run the smoke test against a "
                "stage without it, or verify the address by hand (the account stays until then)."
            )
        expect("register", registered, 201)
        login = expect("login", api.call("POST", "/login", {"email": email, "password": password}), 200)
        access, refresh = field("login", login, "access_token"), field("login", login, "refresh_token")
        profile = expect("profile", api.call("GET", "/profile", token=access), 200)
        if field("profile", profile, "email") != email:
            raise SmokeFailure(f"profile: the user is {profile['email']!r}, not {email!r}")
        refreshed = expect("refresh", api.call("POST", "/refresh", {"refresh_token": refresh}), 200)
        access = field("refresh", refreshed, "access_token")
        field("refresh", refreshed, "refresh_token")
        expect("logout", api.call("POST", "/logout", token=access), 204)
        expect("profile after logout (the session ended)", api.call("GET", "/profile", token=access), 401)
        login = expect("login again", api.call("POST", "/login", {"email": email, "password": password}), 200)
        access = field("login again", login, "access_token")
        expect(
            "delete the account",
            api.call("DELETE", "/profile", {"current_password": password}, token=access),
            204,
        )
        created = False
        expect(
            "login after deletion",
            api.call("POST", "/login", {"email": email, "password": password}),
            401,
            "invalid_credentials",
        )
    finally:
        if created:
            cleanup(api, email, password)


def cleanup(api: Api, email: str, password: str) -> None:
    """After a failed step: delete the throwaway account if it can still sign in."""
    status, payload, _ = api.call("POST", "/login", {"email": email, "password": password})
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if status == 200 and token:
        status, _, _ = api.call("DELETE", "/profile", {"current_password": password}, token=token)
    if status == 204:
        print(f"  cleaned up: {email} deleted")
    else:
        print(f"  !! could not delete {email} (answer {status}): delete it by hand", file=sys.stderr)


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].startswith(("http://", "https://")):
        print("usage: python3 dev/smoke.py <ApiUrl>", file=sys.stderr)
        return 2
    try:
        run(sys.argv[1])
    except SmokeFailure as failure:
        print(f"\nSMOKE TEST FAILED: {failure}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
