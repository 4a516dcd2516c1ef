"""Writes shared/data/common-passwords.txt: the common-password block list (NIST SP 800-63B 3.1.1.2).

Source: the `passwords` list of the npm package @zxcvbn-ts/language-common 4.1.3 (MIT licence,
Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc., (c) 2021 @zxcvbn-ts): 49,233 passwords
ranked by frequency in public breach corpora. Only entries a new password could equal are kept:
8 to 128 code points (shorter ones already fail the length rule). Entries are lower-cased (the
check compares the lower-cased candidate), deduplicated and sorted by byte value, one per line,
so the functions can binary-search the embedded text without building anything at start-up.

    npm pack @zxcvbn-ts/language-common@4.1.3 && tar xzf zxcvbn-ts-language-common-4.1.3.tgz
    python3 dev/make_password_list.py package/src/passwords.json
"""

from __future__ import annotations

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "shared" / "data" / "common-passwords.txt"
MIN_LENGTH, MAX_LENGTH = 8, 128


def main(source: str) -> None:
    passwords = json.loads(pathlib.Path(source).read_text(encoding="utf-8"))
    kept = {
        p.lower()
        for p in passwords
        if MIN_LENGTH <= len(p) <= MAX_LENGTH and "\n" not in p and p == p.strip()
    }
    lines = sorted(kept, key=lambda p: p.encode())
    OUT.write_text("".join(f"{p}\n" for p in lines), encoding="utf-8")
    print(f"{len(passwords)} in the source, {len(lines)} written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1])
