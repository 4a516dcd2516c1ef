"""The load mix `make load` runs (Locust): people using their accounts, a few forgetting their
password, a few signing up twice, and an attacker guessing one victim's password.

Every answer is counted by route, status and error code (`ANSWERS`); an answer is a Locust
failure unless the contract gives it to that flow (`EXPECTED`). At the end the counts, and every
account the run created, are written to $LOAD_OUT/answers.json and accounts.json for
dev/load/report.py, which checks them against the table.
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from collections import Counter

from locust import HttpUser, between, events, task

RUN = os.environ.get("LOAD_RUN", uuid.uuid4().hex[:8])
OUT = os.environ.get("LOAD_OUT", ".")
PASSWORD = "correct horse battery staple"

ANSWERS: Counter[tuple[str, int, str]] = Counter()
ACCOUNTS: dict[str, str] = {}  # email -> user id, every 201 of POST /register
# Sign-ups whose answer was a 5xx or never came: the account may or may not exist (a write
# that committed but whose answer was lost), so the table check allows either.
UNCERTAIN: set[str] = set()
_lock = threading.Lock()

# What each flow may answer besides 2xx, as the contract says. Anything else fails.
EXPECTED = {
    "duplicate sign-up": {(409, "email_taken")},
    "guess a password": {(401, "invalid_credentials"), (429, "too_many_attempts")},
    "profile after logout": {(401, "invalid_token")},
}


# Every address the mix makes starts with this, which tells the report this run's accounts.
PREFIX = f"load-{RUN}-"


def address(kind: str) -> str:
    return f"{PREFIX}{kind}-{uuid.uuid4().hex[:12]}@example.com"


def answer(user: HttpUser, method: str, path: str, flow: str, route: str | None = None, **kwargs):
    """One request, named by its route, counted, and failed unless 2xx or expected by `flow`."""
    route = route or f"{method} {path}"
    with user.client.request(method, path, name=route, catch_response=True, **kwargs) as response:
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("error", {}).get("code", "") if isinstance(body, dict) and response.status_code >= 400 else ""
        with _lock:
            ANSWERS[(route, response.status_code, code)] += 1
            if route == "POST /register" and (response.status_code >= 500 or response.status_code == 0):
                UNCERTAIN.add(kwargs.get("json", {}).get("email", ""))
        if 200 <= response.status_code < 300 or (response.status_code, code) in EXPECTED.get(flow, ()):
            response.success()
        else:
            response.failure(f"{flow}: {response.status_code} {code or response.text[:80]}")
        return response.status_code, body


class AccountHolder(HttpUser):
    """Signs up, then uses the account: reads the profile most, refreshes, lists sessions, signs
    out and in again. Think time 0.2-1 s between actions."""

    weight = 12
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.email = address("user")
        status, body = answer(self, "POST", "/register", "sign-up",
                              json={"email": self.email, "password": PASSWORD, "name": "Load"})
        self.access = self.refresh = None
        if status == 201:
            with _lock:
                ACCOUNTS[self.email] = body["user"]["id"]
            self.access, self.refresh = body["access_token"], body["refresh_token"]

    def _bearer(self):
        return {"authorization": f"Bearer {self.access}"}

    @task(10)
    def read_profile(self):
        if self.access:
            answer(self, "GET", "/profile", "profile", headers=self._bearer())

    @task(3)
    def refresh_tokens(self):
        if self.refresh:
            status, body = answer(self, "POST", "/refresh", "refresh", json={"refresh_token": self.refresh})
            if status == 200:
                self.access, self.refresh = body["access_token"], body["refresh_token"]

    @task(1)
    def list_sessions(self):
        if self.access:
            answer(self, "GET", "/sessions", "sessions", headers=self._bearer())

    @task(1)
    def sign_out_and_in(self):
        if not self.access:
            return
        old = self.access
        answer(self, "POST", "/logout", "logout", headers=self._bearer())
        answer(self, "GET", "/profile", "profile after logout", headers={"authorization": f"Bearer {old}"})
        status, body = answer(self, "POST", "/login", "sign-in", json={"email": self.email, "password": PASSWORD})
        if status == 200:
            self.access, self.refresh = body["access_token"], body["refresh_token"]


class DoubleSignUp(HttpUser):
    """Signs up, then signs up again with the same address at once from two connections: exactly
    one account per address, the second is 409 email_taken."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def sign_up_twice(self):
        email = address("twice")
        payload = {"email": email, "password": PASSWORD}
        results = []

        def attempt():
            results.append(answer(self, "POST", "/register", "duplicate sign-up", json=payload))

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        # gevent-patched threads: both requests are in flight together.
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for status, body in results:
            if status == 201:
                with _lock:
                    ACCOUNTS[email] = body["user"]["id"]


class Forgetful(HttpUser):
    """A burst of password-reset requests, for existing and unknown addresses alike (202 {})."""

    weight = 1
    wait_time = between(0.5, 2)

    @task
    def forgot_burst(self):
        with _lock:
            known = random.choice(list(ACCOUNTS)) if ACCOUNTS else address("nobody")
        for email in (known, address("nobody"), known):
            answer(self, "POST", "/password/forgot", "forgot", json={"email": email})


class Attacker(HttpUser):
    """Credential stuffing against one victim: wrong passwords as fast as answers come. The login
    throttle answers 429 after a few failures, without checking any password."""

    weight = 1
    fixed_count = 1
    wait_time = between(0.05, 0.2)

    def on_start(self):
        self.victim = address("victim")
        status, body = answer(self, "POST", "/register", "sign-up",
                              json={"email": self.victim, "password": PASSWORD})
        if status == 201:
            with _lock:
                ACCOUNTS[self.victim] = body["user"]["id"]

    @task
    def guess(self):
        answer(self, "POST", "/login", "guess a password",
               json={"email": self.victim, "password": f"guess {random.randrange(10**9)}"})


@events.quitting.add_listener
def _write_results(environment, **_kwargs):
    with _lock:
        answers = [{"route": r, "status": s, "code": c, "count": n} for (r, s, c), n in sorted(ANSWERS.items())]
        accounts = dict(ACCOUNTS)
        uncertain = sorted(UNCERTAIN - set(accounts))
    with open(os.path.join(OUT, "answers.json"), "w") as handle:
        json.dump({"run": RUN, "answers": answers}, handle, indent=1)
    with open(os.path.join(OUT, "accounts.json"), "w") as handle:
        json.dump({"run": RUN, "prefix": PREFIX, "accounts": accounts, "uncertain": uncertain}, handle, indent=1)
