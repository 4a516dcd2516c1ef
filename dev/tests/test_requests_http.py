"""docs/requests.http works: every request in it, run in order against the local API that
`make test` started, answers the status its `# expect` line says.

This runs the REST Client syntax the file uses, and nothing more: file variables (`@name =
value`), `{{$guid}}`, and request variables (`{{name.response.body.$.json.path}}`,
`{{name.response.headers.Header}}`; JSONPath steps `.key`, `[0]` and `[?(@.key==value)]`).
Anything else in a `{{...}}` fails the test, so the file cannot grow syntax this runner would
silently skip."""

from __future__ import annotations

import json
import os
import pathlib
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
FILE = ROOT / "docs" / "requests.http"
PLACEHOLDER = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
JSON_PATH_STEP = re.compile(r"\.(\w+)|\[(\d+)\]|\[\?\(@\.(\w+)==(true|false|\d+)\)\]")


@dataclass
class Request:
    title: str
    name: str | None
    expect: int
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: object


def parse(text: str) -> tuple[dict[str, str], list[Request]]:
    blocks = re.split(r"^###", text, flags=re.M)
    variables = dict(re.findall(r"^@(\w+)\s*=\s*(.*?)\s*$", blocks[0], re.M))
    requests = []
    for block in blocks[1:]:
        lines = block.split("\n")
        title, rest = lines[0].strip(), lines[1:]
        name = expect = None
        while rest and (rest[0].startswith("#") or not rest[0].strip()):
            line = rest.pop(0)
            if m := re.match(r"#\s*@name\s+(\w+)", line):
                name = m[1]
            if m := re.match(r"#\s*expect\s+(\d{3})", line):
                expect = int(m[1])
        assert expect is not None, f"{title!r} has no '# expect <status>' line"
        method, url = rest.pop(0).split(" ", 1)
        request = Request(title, name, expect, method, url.strip())
        while rest and rest[0].strip():
            header, value = rest.pop(0).split(":", 1)
            request.headers.append((header.strip(), value.strip()))
        request.body = "\n".join(rest).strip()
        requests.append(request)
    return variables, requests


def json_path(document: object, path: str) -> object:
    """`$.a.b`, `$.a[0]` and `$.a[?(@.field==value)]` (the first match, as REST Client takes it)."""
    assert path.startswith("$"), path
    steps = JSON_PATH_STEP.findall(path[1:])
    matched = "".join(m.group(0) for m in JSON_PATH_STEP.finditer(path[1:]))
    assert matched == path[1:], f"unsupported JSONPath {path!r}"
    for key, index, field, value in steps:
        if key:
            document = document[key]  # type: ignore[index]
        elif index:
            document = document[int(index)]  # type: ignore[index]
        else:
            wanted = json.loads(value)
            document = next(item for item in document if item.get(field) == wanted)  # type: ignore[union-attr]
    return document


def substitute(text: str, variables: dict[str, str], answers: dict[str, Answer]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match[1]
        if expression == "$guid":
            return str(uuid.uuid4())
        if expression in variables:
            return substitute(variables[expression], variables, answers)
        name, _, rest = expression.partition(".")
        assert name in answers, f"unknown variable or request {expression!r}"
        answer = answers[name]
        if rest.startswith("response.body."):
            return str(json_path(answer.body, rest.removeprefix("response.body.")))
        if rest.startswith("response.headers."):
            return answer.headers[rest.removeprefix("response.headers.").lower()]
        raise AssertionError(f"unsupported reference {expression!r}")

    return PLACEHOLDER.sub(value, text)


def send(request: Request, variables: dict[str, str], answers: dict[str, Answer]) -> Answer:
    url = substitute(request.url, variables, answers)
    url = url.replace(substitute("{{baseUrl}}", variables, answers), os.environ["E2E_BASE_URL"])
    assert url.startswith("http://127.0.0.1:"), url  # test traffic stays on loopback
    body = substitute(request.body, variables, answers).encode() or None
    outgoing = urllib.request.Request(url, data=body, method=request.method)
    for header, value in request.headers:
        outgoing.add_header(header, substitute(value, variables, answers))
    try:
        with urllib.request.urlopen(outgoing, timeout=60) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    return Answer(
        status,
        {k.lower(): v for k, v in headers.items()},
        json.loads(raw) if raw else None,
    )


def test_every_request_in_requests_http_answers_as_the_file_says():
    assert os.environ.get("E2E_BASE_URL"), "E2E_BASE_URL is set by `make test`"
    variables, requests = parse(FILE.read_text())
    assert variables["baseUrl"] == "http://127.0.0.1:9000", "the make dev default"
    assert len(requests) >= 11
    for run in range(2):  # as written, twice in a row: each run makes its own account
        answers: dict[str, Answer] = {}
        for request in requests:
            answer = send(request, variables, answers)
            assert answer.status == request.expect, (run + 1, request.title, answer.status, answer.body)
            if request.name:
                answers[request.name] = answer


def test_the_file_calls_every_route_of_the_template():
    import cfn

    _, requests = parse(FILE.read_text())
    called = set()
    for request in requests:
        path = request.url.replace("{{baseUrl}}", "")
        path = re.sub(r"/\{\{[^}]+\}\}", "/{id}", path)
        called.add((request.method, path))
    assert called == {(method, path) for method, path, _ in cfn.function_routes(cfn.load_template())}
