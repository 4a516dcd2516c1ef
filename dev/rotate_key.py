"""`make rotate-key`: moves the access-token keyset one step through next → current → previous →
gone, waiting as long as verifiers' caches need, so that no token ever fails to verify.

    python dev/rotate_key.py STEP [--file KEYSET.json | --secret-id ARN [--stack NAME]] [--alg ES256|RS256]

STEP is one of:

- `init`: a new keyset with one current key (refused if one exists);
- `stage`: adds a `next` key (published in the JWKS, signing nothing yet);
- `promote`: `next` → `current`, `current` → `previous`; refused until the next key has been
  published for PUBLISH_WAIT (the JWKS' `max-age`, 1 h, plus API Gateway's JWT authorizer cache,
  up to 2 h), so every verifier already holds it when it signs;
- `retire`: drops `previous`; refused until it has been previous for RETIRE_WAIT (the access-token
  lifetime plus leeway), so no token it signed is still alive;
- `status`: prints the keys, their states and how long they have been in them.

In AWS (`--secret-id`, the `TokenKeysSecretArn` output) the keyset is the Secrets Manager
secret, and with `--stack` every function of the stack is recycled after each step (functions
read the keyset once per cold start): after `stage`, so that every instance verifies the next key
before anyone signs with it; after `promote`, so that all sign with the new key; after `retire`.
Locally (`--file`) the keyset is the file `make dev` and `make test` use; restart `make dev`.
`--force` skips the waits (a local demonstration, or an emergency: a leaked key).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import pathlib
import sys
import time

import token_keys

PUBLISH_WAIT = 3600 + 7200  # JWKS max-age + API Gateway's JWKS cache
RETIRE_WAIT = 900 + 5 + 60  # access-token lifetime + leeway + a minute for stragglers


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(key: dict) -> str:
    """The key's RFC 7638 kid, as the functions compute it."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public = load_pem_private_key(key["private_key_pem"].encode(), password=None).public_key()
    numbers = public.public_numbers()
    if key["alg"] == "ES256":
        size = 32
        canonical = {"crv": "P-256", "kty": "EC",
                     "x": b64(numbers.x.to_bytes(size, "big")), "y": b64(numbers.y.to_bytes(size, "big"))}  # fmt: skip
    else:
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        canonical = {"e": b64(e), "kty": "RSA", "n": b64(n)}
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(text.encode()).digest())


class Store:
    def __init__(self, file: str | None, secret_id: str | None):
        self.file, self.secret_id = (pathlib.Path(file) if file else None), secret_id
        if self.secret_id:
            import boto3

            self.client = boto3.client("secretsmanager")

    def load(self) -> dict | None:
        if self.file:
            return json.loads(self.file.read_text()) if self.file.exists() else None
        try:
            value = self.client.get_secret_value(SecretId=self.secret_id)
        except self.client.exceptions.ResourceNotFoundException:
            return None
        text = value.get("SecretString")
        return json.loads(text) if text else None

    def save(self, keyset: dict) -> None:
        text = json.dumps(keyset, indent=2)
        if self.file:
            partial = self.file.with_suffix(".partial")
            partial.write_text(text)
            partial.chmod(0o600)
            partial.replace(self.file)
        else:
            self.client.put_secret_value(SecretId=self.secret_id, SecretString=text)


# template.yaml's Globals: AutoPublishAlias.
LIVE_ALIAS = "live"


def recycle(stack: str) -> None:
    """New execution environments for every function of the stack (they read keys at start)."""
    import boto3

    resources = boto3.client("cloudformation").describe_stack_resources(StackName=stack)
    functions = [r["PhysicalResourceId"] for r in resources["StackResources"]
                 if r["ResourceType"] == "AWS::Lambda::Function"]  # fmt: skip
    client = boto3.client("lambda")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name in functions:
        client.update_function_configuration(FunctionName=name, Description=f"keyset changed {stamp}")
        # Requests reach a published version through the `live` alias (AutoPublishAlias): the
        # same code, published again, starts in new environments. The alias moves at once, not
        # by the gradual deployment: nothing but the keys they read at start changes.
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        version = client.publish_version(FunctionName=name, Description=f"keyset changed {stamp}")
        client.update_alias(FunctionName=name, Name=LIVE_ALIAS, FunctionVersion=version["Version"])
    print(f"recycled {len(functions)} functions of {stack} (new versions behind {LIVE_ALIAS!r})")


def step(name: str, keyset: dict | None, alg: str, now: int, force: bool) -> dict:
    keys = (keyset or {}).get("keys", [])
    by_state = {state: [k for k in keys if k["state"] == state] for state in ("next", "current", "previous")}
    if name == "init":
        if keys:
            raise SystemExit("a keyset exists already: use stage, promote and retire")
        return {"keys": [token_keys.new_key(alg, "current")]}
    if not by_state["current"]:
        raise SystemExit("no keyset yet: run init first")
    if name == "stage":
        if by_state["next"]:
            raise SystemExit("a next key is staged already: promote it first")
        return {"keys": keys + [token_keys.new_key(alg, "next")]}
    if name == "promote":
        if not by_state["next"]:
            raise SystemExit("no next key: stage one first")
        if by_state["previous"]:
            raise SystemExit("a previous key is still published: retire it first")
        waited = now - by_state["next"][0].get("since", 0)
        if waited < PUBLISH_WAIT and not force:
            raise SystemExit(f"the next key has been published {waited} s; verifiers may cache the "
                             f"JWKS for {PUBLISH_WAIT} s: promote after {PUBLISH_WAIT - waited} s more")  # fmt: skip
        moved = {"next": "current", "current": "previous"}
        return {"keys": [{**k, "state": moved[k["state"]], "since": now} for k in keys]}
    if name == "retire":
        if not by_state["previous"]:
            raise SystemExit("no previous key to retire")
        waited = now - by_state["previous"][0].get("since", 0)
        if waited < RETIRE_WAIT and not force:
            raise SystemExit(f"tokens of the previous key may live {RETIRE_WAIT - waited} s more")
        return {"keys": [k for k in keys if k["state"] != "previous"]}
    raise SystemExit(f"unknown step {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["init", "stage", "promote", "retire", "status"])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--file")
    where.add_argument("--secret-id")
    parser.add_argument("--stack", help="recycle this stack's functions after the step")
    parser.add_argument("--alg", default="ES256", choices=["ES256", "RS256"])
    parser.add_argument("--force", action="store_true", help="skip the waits")
    args = parser.parse_args()
    store = Store(args.file, args.secret_id)
    keyset = store.load()
    now = int(time.time())
    if args.step != "status":
        keyset = step(args.step, keyset, args.alg, now, args.force)
        store.save(keyset)
        if args.stack:
            recycle(args.stack)
    for key in (keyset or {}).get("keys", []):
        print(f"{key['state']:9} {key['alg']}  kid {thumbprint(key)}  for {now - key.get('since', now)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
