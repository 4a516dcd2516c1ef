"""Every mail flow end to end over HTTP, as a client and a person with a mailbox do it: the
local API (`cargo lambda watch`) that `make test` runs, its mail queue delivered to the mailer by
dev/mail_poller.py, and the codes and links read out of what the local SES sent.

Skipped outside `make test` (it needs E2E_BASE_URL and the local AWS endpoint)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

import mail

BASE = os.environ.get("E2E_BASE_URL")
AWS = os.environ.get("LOCAL_MOTO_ENDPOINT")  # the local SQS and SES
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"

pytestmark = pytest.mark.skipif(not (BASE and AWS), reason="runs under make test")


def call(method: str, path: str, body: dict | None = None, bearer: str | None = None):
    headers = {"content-type": "application/json"}
    if bearer:
        headers["authorization"] = f"Bearer {bearer}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{BASE}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}@example.com"


def wait_for_mail(to: str, count: int = 1, timeout: float = 120) -> list[dict]:
    """The first `count` messages sent to `to`, waiting for them to arrive (a generous wait for
    a loaded machine, not a promise about speed: the delivery time is measured by make load)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = [m for m in mail.sent(AWS) if to in m["to"]]
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, f"{len(messages)} of {count} messages to {to}"
        time.sleep(0.1)


def token_of(message: dict) -> str:
    (token,) = re.findall(r"#token=([\w-]+)", message["body"])
    return token


def code_of(message: dict) -> str:
    (code,) = re.findall(r"^\s+(\d{8})$", message["body"], re.M)
    return code


def register(email: str) -> dict:
    status, body = call("POST", "/register", {"email": email, "password": PASSWORD})
    assert status == 201, body
    return body


def test_a_new_address_is_verified_with_the_mailed_link():
    email = address("e2e-verify")
    signed_in = register(email)
    assert signed_in["user"]["email_verified"] is False
    (message,) = wait_for_mail(email)
    assert message["subject"] == "Confirm your email address for Accounts"
    assert "http://localhost:3000/verify#token=" in message["body"]

    status, body = call("POST", "/email/confirm", {"token": token_of(message)})
    assert status == 200, body
    assert body["user"]["email_verified"] is True
    status, profile = call("GET", "/profile", bearer=signed_in["access_token"])
    assert (status, profile["email_verified"]) == (200, True)
    # Used: the link and its code are dead.
    status, body = call("POST", "/email/confirm", {"email": email, "code": code_of(message)})
    assert (status, body["error"]["code"]) == (400, "invalid_code")


def test_a_forgotten_password_is_reset_with_the_mailed_code_and_every_session_ends():
    email = address("e2e-reset")
    signed_in = register(email)
    status, body = call("POST", "/password/forgot", {"email": email})
    assert (status, body) == (202, {})
    messages = wait_for_mail(email, 2)  # the verification, then the reset
    (reset,) = [m for m in messages if m["subject"] == "Reset your Accounts password"]

    status, body = call(
        "POST", "/password/reset", {"email": email, "code": code_of(reset), "new_password": NEW_PASSWORD}
    )
    assert status == 204, body
    assert call("GET", "/profile", bearer=signed_in["access_token"])[0] == 401
    assert call("POST", "/refresh", {"refresh_token": signed_in["refresh_token"]})[0] == 401
    assert call("POST", "/login", {"email": email, "password": PASSWORD})[0] == 401
    status, body = call("POST", "/login", {"email": email, "password": NEW_PASSWORD})
    assert status == 200, body
    assert body["user"]["email_verified"] is True, "the reset proved the address"
    notices = wait_for_mail(email, 3)
    assert any(m["subject"] == "Your Accounts password was changed" for m in notices)


def test_an_unknown_address_gets_the_same_answer_and_no_mail():
    email = address("e2e-nobody")
    assert call("POST", "/password/forgot", {"email": email}) == (202, {})
    known = address("e2e-somebody")
    register(known)
    assert call("POST", "/password/forgot", {"email": known}) == (202, {})
    wait_for_mail(known, 2)  # the known address's reset arrived, so the unknown one was handled
    time.sleep(1)
    assert [m for m in mail.sent(AWS) if email in m["to"]] == []


def test_an_email_change_waits_for_the_new_address():
    old, new = address("e2e-move-old"), address("e2e-move-new")
    signed_in = register(old)
    bearer = signed_in["access_token"]
    status, user = call("PATCH", "/profile", {"email": new, "current_password": PASSWORD}, bearer)
    assert status == 200, user
    assert (user["email"], user["pending_email"]) == (old, new)
    (confirmation,) = wait_for_mail(new)
    assert confirmation["subject"] == "Confirm your new email address for Accounts"
    assert "/confirm-email#token=" in confirmation["body"]
    notices = wait_for_mail(old, 2)
    assert any("change your Accounts email address" in m["subject"] for m in notices), notices
    # Until confirmed, the old address signs in and the new one does not.
    assert call("POST", "/login", {"email": new, "password": PASSWORD})[0] == 401

    status, body = call("POST", "/email/confirm", {"token": token_of(confirmation)})
    assert status == 200, body
    assert (body["user"]["email"], body["user"]["pending_email"]) == (new, None)
    assert call("POST", "/login", {"email": new, "password": PASSWORD})[0] == 200
    assert call("POST", "/login", {"email": old, "password": PASSWORD})[0] == 401


def test_a_resend_is_answered_and_limited_per_address():
    email = address("e2e-resend")
    signed_in = register(email)
    wait_for_mail(email)
    # Within a minute of the first: answered alike, and nothing more is sent.
    assert call("POST", "/email/verify", None, signed_in["access_token"]) == (202, {})
    time.sleep(2)
    assert len([m for m in mail.sent(AWS) if email in m["to"]]) == 1
