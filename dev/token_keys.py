"""The local access-token keyset: generated on first use, kept under .local/ (out of git).

    python dev/token_keys.py --alg ES256 --out .local/token-keys-ES256.json

Writes `{"keys": [{"state": "current", "alg": ..., "private_key_pem": ..., "since": ...}]}`
(PKCS#8 PEM; ES256 is a P-256 key, RS256 an RSA-2048 key) if the file does not exist yet, and
prints its path either way. In AWS the keyset lives in Secrets Manager and `make rotate-key`
moves it; this file is that keyset for `make dev` and `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def private_key_pem(alg: str) -> str:
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise SystemExit(f"unsupported algorithm {alg}: ES256 or RS256")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_key(alg: str, state: str) -> dict:
    return {"state": state, "alg": alg, "private_key_pem": private_key_pem(alg), "since": int(time.time())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alg", default="ES256", choices=["ES256", "RS256"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        # Private keys: readable by this user only, written whole or not at all.
        partial = out.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump({"keys": [new_key(args.alg, "current")]}, file, indent=2)
        partial.replace(out)
    print(out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
