"""Runs moto's server on loopback: DynamoDB one request at a time, and SQS and SES v2 (the mail
queue and the sender) beside it.

Two things keep moto faithful to DynamoDB here:

- moto's TransactWriteItems snapshots the whole table and restores the snapshot when a
  transaction is cancelled; with concurrent requests that restore could drop another request's
  write. Real DynamoDB serialises conflicting writes itself, so requests are serialised here.
  Connections stay concurrent; only request processing is serialised.
- TransactWriteItems is idempotent in DynamoDB for a given ClientRequestToken (for 10 minutes):
  an SDK retry of a transaction whose first attempt did commit (its answer timed out) gets the
  first answer again. moto ignores the token, so the retry ran again and failed its own
  conditions; answers are replayed here by token, as DynamoDB does.

    python dev/moto_server.py --port 8000
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import threading
import time
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


IDEMPOTENCY_WINDOW_SECONDS = 600


def serialised(app: Wsgi) -> Wsgi:
    lock = threading.Lock()
    # ClientRequestToken -> (when, request digest, status, headers, body)
    answered: dict[str, tuple[float, str, str, list[tuple[str, str]], bytes]] = {}

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == SENT_MAIL_PATH:
            return sent_mail(start_response)
        if environ.get("PATH_INFO") == SEND_EMAIL_PATH and environ.get("REQUEST_METHOD") == "POST":
            return recording_mail(app, environ, start_response)
        # Only DynamoDB needs the lock (its transaction snapshots); SQS and SES answer
        # concurrently. (moto's own /moto-api/data.json dumps every backend, DynamoDB included.)
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            token, digest = None, ""
            if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length)
                environ["wsgi.input"] = io.BytesIO(body)
                try:
                    request = json.loads(body)
                except ValueError:
                    request = {}
                token = request.pop("ClientRequestToken", None)
                digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
                now = time.monotonic()
                for old in [t for t, a in answered.items() if now - a[0] > IDEMPOTENCY_WINDOW_SECONDS]:
                    del answered[old]
                if token in answered:
                    _, seen, status, headers, answer = answered[token]
                    if seen != digest:
                        status, answer = "400 Bad Request", json.dumps({
                            "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                            "message": "The request uses the same client token as a previous, different request.",
                        }).encode()
                        headers = [("Content-Type", "application/x-amz-json-1.0")]
                    start_response(status, headers + [("Content-Length", str(len(answer)))])
                    return [answer]
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            chunks = list(app(environ, capture))
            if token is not None:
                headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
                answered[token] = (time.monotonic(), digest, captured["status"], headers, b"".join(chunks))
            return chunks

    return handle


# What SES "sent", kept here as well as in moto's state: reading it back from
# /moto-api/data.json means a dump of every backend (the whole table included) on each read.
SEND_EMAIL_PATH = "/v2/email/outbound-emails"
SENT_MAIL_PATH = "/local/sent-mail.json"
SENT: list[dict[str, Any]] = []
SENT_LOCK = threading.Lock()


def recording_mail(app: Wsgi, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Passes an SES v2 SendEmail to moto and, when moto accepts it, records the message."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    captured: dict[str, str] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = status
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    chunks = list(app(environ, capture))
    if captured.get("status", "").startswith("200"):
        request = json.loads(body or b"{}")
        simple = request.get("Content", {}).get("Simple", {})
        destination = request.get("Destination", {})
        with SENT_LOCK:
            SENT.append({
                "to": [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(key, [])],
                "from": request.get("FromEmailAddress", ""),
                "subject": simple.get("Subject", {}).get("Data", ""),
                "body": simple.get("Body", {}).get("Text", {}).get("Data", ""),
            })
    return chunks


def sent_mail(start_response: Callable[..., Any]) -> Iterable[bytes]:
    with SENT_LOCK:
        answer = json.dumps(SENT).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if not args.host.startswith("127."):
        parser.error("the local DynamoDB only listens on loopback (127.0.0.0/8)")
    app = serialised(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
