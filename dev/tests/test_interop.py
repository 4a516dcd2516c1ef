"""Access tokens are verifiable by anyone with the public key, proven with two independent,
widely used verifiers fetching the running local APIs' JWKS (one signing with ES256, one with
RS256): Python's PyJWT (`PyJWKClient`) and Node's jose (`createRemoteJWKSet`,
dev/interop/verify.mjs). Each accepts a token the API issued and refuses a tampered one, one
signed by a key the JWKS does not hold (as a removed key's), and an `alg` swap.

Skipped outside `make test` (it needs E2E_BASE_URL)."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess
import urllib.request
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import rotate_key

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The local API `make test` runs (ES256), and the second one it runs signing with RS256.
APIS = {"ES256": os.environ.get("E2E_BASE_URL"), "RS256": os.environ.get("E2E_RS256_BASE_URL")}
AUDIENCE = "accounts-api"
pytestmark = pytest.mark.skipif(not all(APIS.values()), reason="runs under make test")


def post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def get(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}{path}", timeout=60) as response:
        return json.load(response)


@pytest.fixture(scope="module", params=sorted(APIS))
def issued(request) -> dict:
    base = APIS[request.param]
    email = f"interop-{uuid.uuid4().hex}@example.com"
    signed_in = post(base, "/register", {"email": email, "password": "correct horse battery staple"})
    discovery = get(base, "/.well-known/openid-configuration")
    header = jwt.get_unverified_header(signed_in["access_token"])
    assert header["alg"] == request.param and header["typ"] == "at+jwt"
    return {"token": signed_in["access_token"], "discovery": discovery, "alg": header["alg"],
            "base": base, "user": signed_in["user"]["id"]}  # fmt: skip


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def foreign(issued: dict) -> str:
    """The same claims, signed by a key the JWKS does not hold (as a removed key's tokens are)."""
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    if issued["alg"] == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm=issued["alg"], headers={"kid": "removed-key", "typ": "at+jwt"})


def swapped(issued: dict) -> str:
    """HS256, "signed" with the published public key as the secret: the algorithm confusion."""
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(issued["token"])["kid"]
    secret = json.dumps(get(issued["base"], "/.well-known/jwks.json")).encode()
    header = {"alg": "HS256", "kid": kid, "typ": "at+jwt"}
    signing = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    import hashlib
    import hmac

    mac = hmac.new(secret, f"{signing}.{body}".encode(), hashlib.sha256).digest()
    return f"{signing}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def pyjwt_verifies(issued: dict, token: str) -> bool:
    discovery = issued["discovery"]
    try:
        key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=[issued["alg"]], audience=AUDIENCE,
                   issuer=discovery["issuer"], options={"require": ["exp", "iss", "aud", "sub"]})  # fmt: skip
        return True
    except jwt.PyJWTError:
        return False


def jose_verifies(issued: dict, token: str) -> bool:
    discovery = issued["discovery"]
    run = subprocess.run(
        ["node", "verify.mjs", discovery["jwks_uri"], discovery["issuer"], AUDIENCE, issued["alg"], token],
        cwd=ROOT / "dev" / "interop", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return run.returncode == 0


@pytest.mark.parametrize("verifies", [pyjwt_verifies, jose_verifies], ids=["PyJWT", "jose"])
def test_an_issued_token_verifies_and_forgeries_do_not(issued, verifies):
    assert verifies(issued, issued["token"]), "the API's own token"
    assert not verifies(issued, tampered(issued["token"])), "a tampered token"
    assert not verifies(issued, foreign(issued)), "a token of a key the JWKS does not hold"
    assert not verifies(issued, swapped(issued)), "an alg swap"


def test_the_kids_are_rfc_7638_thumbprints_of_the_local_keys(issued):
    keyset = json.loads((ROOT / ".local" / f"token-keys-{issued['alg']}.json").read_text())
    published = {key["kid"] for key in get(issued["base"], "/.well-known/jwks.json")["keys"]}
    assert {rotate_key.thumbprint(key) for key in keyset["keys"]} == published
