"""Runs moto's DynamoDB-compatible server on loopback, one request at a time.

moto's TransactWriteItems snapshots the whole table and restores the snapshot when a
transaction is cancelled; with concurrent requests that restore could drop another request's
write. Real DynamoDB serialises conflicting writes itself, so we serialise requests here to keep
moto faithful. Connections stay concurrent; only request processing is serialised.

    python dev/moto_server.py --port 8000
"""

from __future__ import annotations

import argparse
import threading
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialised(app: Wsgi) -> Wsgi:
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return handle


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
