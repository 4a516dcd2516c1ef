"""The API's documents over HTTP for `make dev` (docs/: openapi.yaml, requests.http, the rest),
for tools that import a contract by URL (Swagger UI and Editor, Postman, Insomnia, client
generators):

- with their media types (`application/yaml` for the OpenAPI document, not
  `application/octet-stream`) and `Access-Control-Allow-Origin: *`, so that a browser tool on
  another origin can fetch them (they are public documents on loopback);
- with the local API's address as this run has it: `http://127.0.0.1:9000`, the documents'
  default, becomes the `--api` given (`make dev PORT=9100` serves `http://127.0.0.1:9100`).

    python3 dev/docs_server.py --port 9001 --api http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import pathlib

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
DEFAULT_API = "http://127.0.0.1:9000"
TYPES = {".yaml": "application/yaml", ".http": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8"}


class Handler(http.server.SimpleHTTPRequestHandler):
    api = DEFAULT_API

    def guess_type(self, path):
        return TYPES.get(pathlib.PurePath(str(path)).suffix, super().guess_type(path))

    def end_headers(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self):  # noqa: N802 - http.server's naming
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Max-Age", "600")
        self.end_headers()

    def send_head(self):
        path = pathlib.Path(self.translate_path(self.path))
        if path.suffix not in (".yaml", ".http") or not path.is_file():
            return super().send_head()
        body = path.read_text().replace(DEFAULT_API, self.api).encode()
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", default=DEFAULT_API)
    args = parser.parse_args()
    Handler.api = args.api.rstrip("/")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", args.port), functools.partial(Handler, directory=str(DOCS))
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
