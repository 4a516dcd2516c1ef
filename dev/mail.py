"""`make mail`: the mail the local SES (moto) has "sent", newest last, as a person reads it.

moto keeps what SES sent in its state (`/moto-api/data.json` on the local AWS endpoint, DDB_PORT,
under "ses"; a dump of every backend). dev/moto_server.py also keeps each accepted message at
`/local/sent-mail.json`, cheap to read, which this uses. `--to` keeps one recipient's messages;
`--json` prints them for scripts.

    python dev/mail.py --endpoint http://127.0.0.1:8000 [--to ada@example.com] [--last 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request


def sent(endpoint: str) -> list[dict]:
    """Every message sent so far: {to, from, subject, body}, oldest first."""
    with urllib.request.urlopen(f"{endpoint}/local/sent-mail.json", timeout=30) as response:
        return json.load(response)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000")
    parser.add_argument("--to")
    parser.add_argument("--last", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    messages = [m for m in sent(args.endpoint) if args.to is None or args.to in m["to"]]
    messages = messages[-args.last :] if args.last > 0 else messages
    if args.json:
        print(json.dumps(messages, indent=2))
        return 0
    if not messages:
        print("no mail sent yet")
    for m in messages:
        print(f"To: {', '.join(m['to'])}\nFrom: {m['from']}\nSubject: {m['subject']}\n\n{m['body']}\n")
        print("-" * 72)
    return 0


if __name__ == "__main__":
    sys.exit(main())
