"""Serves the web client (web/) on loopback for `make dev` and `make test`, as its production host
(CloudFront, see docs/web.md) does: the files of web/index.html and web/src/ only, every other
path without a file extension answered with index.html (the app routes itself: /verify, /reset
…), /config.json telling the app where the API is, and the headers of the production
distribution: a strict Content-Security-Policy (no inline script or style, connections to this
origin and the API only), no framing, no referrer, no sniffing.

    python dev/web_server.py --port 9002 --api http://localhost:9000
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import pathlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WEB = pathlib.Path(__file__).resolve().parent.parent / "web"
SERVED = {"index.html"} | {f"src/{p.name}" for p in (WEB / "src").iterdir() if p.suffix in {".js", ".css"}}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8"}


def security_headers(api: str) -> dict[str, str]:
    """The headers of every answer (the same policy as the CloudFront response headers policy)."""
    api_origin = "{0.scheme}://{0.netloc}".format(urlsplit(api)) if "://" in api else ""
    connect = " ".join(filter(None, ["'self'", api_origin]))
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }


def handler(api: str) -> type[BaseHTTPRequestHandler]:
    headers = security_headers(api)
    config = json.dumps({"apiBaseUrl": api}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            path = urlsplit(self.path).path
            if path == "/config.json":
                return self.send(HTTPStatus.OK, config, "application/json")
            relative = path.lstrip("/")
            if relative in SERVED:
                file = WEB / relative
                return self.send(HTTPStatus.OK, file.read_bytes(), TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream")
            if "." not in pathlib.PurePosixPath(path).name:
                return self.send(HTTPStatus.OK, (WEB / "index.html").read_bytes(), TYPES[".html"])
            return self.send(HTTPStatus.NOT_FOUND, b"Not Found", "text/plain; charset=utf-8")

        def send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet: the API's log is the one to read

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True, help="the API's base URL, as the browser reaches it")
    args = parser.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.api))
    print(f"web client on http://localhost:{args.port} (API {args.api})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
