"""docs/openapi.yaml is the contract, and it agrees with everything else: it validates as
OpenAPI 3.1; its operations are the template's routes; its error codes are the code's; its
examples fit its own schemas; and the events/ bodies fit its request schemas exactly as far as
the handler tests say they should. (Whether the running API keeps the contract is
schemathesis' part: dev/contract/run.sh.)"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml
from jsonschema import FormatChecker
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import cfn

ROOT = cfn.ROOT
DOCUMENT = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
BASE = "urn:accounts-openapi"
REGISTRY = Registry().with_resource(BASE, Resource(DOCUMENT, specification=DRAFT202012))
METHODS = {"get", "put", "post", "patch", "delete"}
OPERATIONS = {
    (method.upper(), path): operation
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in METHODS
}

# An event named `shape-*` carries a body the handler tests expect refused for its *shape*
# (missing, mistyped, unknown or extra fields, or not an object), which the schema must refuse
# too. Every other event with a JSON body must fit its schema: the ones the handlers accept, and
# the ones they refuse for reasons JSON Schema cannot state (a common password, an IP-literal
# email, an invisible name, a wrong password, a stale If-Match).
SHAPE_ERROR_PREFIX = "shape-"


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator(at: str) -> OAS31Validator:
    """A validator for the schema at JSON pointer `at` of the document, with its $refs."""
    return OAS31Validator(
        {"$ref": BASE + at}, registry=REGISTRY, format_checker=FormatChecker()
    )


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate_spec(DOCUMENT)


def test_its_operations_are_exactly_the_template_routes():
    routes = {(method, path) for method, path, _ in cfn.function_routes(cfn.load_template())}
    assert set(OPERATIONS) == routes
    ids = [operation["operationId"] for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids)), "operationIds are unique"


def test_the_route_table_of_docs_api_md_is_generated_from_the_document():
    import route_table

    api = route_table.TARGET.read_text()
    assert route_table.current(api) == route_table.render(DOCUMENT), (
        "docs/api.md's route table is stale: run `make docs`"
    )


def test_its_error_codes_are_exactly_the_codes_of_api_error():
    source = (ROOT / "shared" / "src" / "error.rs").read_text()
    body = source[source.index("pub fn code(") :]
    body = body[: body.index("\n    }\n")]
    in_code = set(re.findall(r'=> "(\w+)"', body))
    assert in_code, "the parser found the codes"
    assert set(DOCUMENT["components"]["schemas"]["ErrorCode"]["enum"]) == in_code


def response_codes(response: dict) -> set[str]:
    """The error codes a response allows: its `x-error-codes` (the body is the one `Error`
    envelope everywhere, so that generated clients have one error type; dev/contract/hooks.py
    holds every answer to the list)."""
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    return set(response["x-error-codes"])


def resolve(node: dict) -> dict:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = DOCUMENT["components"][kind][name]
    return node


def test_every_error_response_is_the_envelope_with_codes_of_its_status():
    statuses = {
        "bad_request": 400, "malformed_json": 400, "validation_failed": 400, "invalid_code": 400,
        "email_not_verified": 403, "invalid_credentials": 401, "invalid_grant": 401, "missing_token": 401,
        "invalid_token": 401, "session_not_found": 404, "email_taken": 409,
        "precondition_failed": 412, "payload_too_large": 413, "unsupported_media_type": 415,
        "origin_not_allowed": 403,
        "too_many_attempts": 429, "internal_error": 500, "service_unavailable": 503,
    }  # fmt: skip
    assert set(statuses) == set(DOCUMENT["components"]["schemas"]["ErrorCode"]["enum"])
    for (method, path), operation in OPERATIONS.items():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            codes = response_codes(resolve(response))
            assert codes and all(statuses[c] == int(status) for c in codes), (method, path, status)
            assert "Cache-Control" in resolve(response)["headers"]


def test_protected_routes_declare_the_bearer_scheme_and_its_challenge():
    """An operation is public where it says `security: []` (schemathesis' ignored_auth check
    holds the running API to it); every other one takes the bearer token and says how it
    refuses one."""
    assert DOCUMENT["security"] == [{"bearerAuth": []}], "protected unless an operation says not"
    for key, operation in OPERATIONS.items():
        security = operation.get("security", DOCUMENT["security"])
        if security == []:
            # A public operation never asks for a token.
            refusals = operation["responses"].get("401")
            assert not refusals or "missing_token" not in response_codes(resolve(refusals)), key
            continue
        assert {"bearerAuth": []} in security, key
        unauthorized = resolve(operation["responses"]["401"])
        assert "WWW-Authenticate" in unauthorized["headers"], key
        assert {"missing_token", "invalid_token"} <= response_codes(unauthorized), key


def test_headers_that_clients_rely_on_are_declared():
    for key in [("GET", "/profile"), ("PATCH", "/profile")]:
        assert "ETag" in OPERATIONS[key]["responses"]["200"]["headers"], key
    for key, operation in OPERATIONS.items():
        for status in ("429", "503"):
            if status in operation["responses"]:
                assert "Retry-After" in resolve(operation["responses"][status])["headers"], key


def media_examples():
    """Every example value in the document, with the JSON pointer of the schema it illustrates."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            places = []
            if "requestBody" in operation:
                places.append(("requestBody",))
            for status, response in operation["responses"].items():
                if "$ref" not in response:
                    places.append(("responses", status))
            for place in places:
                node = operation
                for part in place:
                    node = node[part]
                for media, content in node.get("content", {}).items():
                    at = pointer("paths", path, method, *place, "content", media, "schema")
                    for name, example in content.get("examples", {}).items():
                        found.append((f"{method} {path} {name}", at, resolve(example)["value"]))
    for name, response in DOCUMENT["components"]["responses"].items():
        for media, content in response.get("content", {}).items():
            at = pointer("components", "responses", name, "content", media, "schema")
            for example_name, example in content.get("examples", {}).items():
                found.append((f"{name} {example_name}", at, example["value"]))
    return found


@pytest.mark.parametrize("name,at,value", media_examples(), ids=[n for n, _, _ in media_examples()])
def test_every_example_fits_its_schema(name, at, value):
    validator(at).validate(value)


def test_there_are_examples_for_every_request_body_and_success():
    names = " ".join(name for name, _, _ in media_examples())
    for (method, path), operation in OPERATIONS.items():
        if "requestBody" in operation and operation["operationId"] != "logout":
            assert f"{method.lower()} {path} " in names, (method, path)


def event_bodies():
    routes = {binary: (method, path) for method, path, binary in cfn.function_routes(cfn.load_template())}
    for file in sorted((ROOT / "events").glob("*/*.json")):
        event = json.loads(file.read_text())
        if event.get("isBase64Encoded") or not event.get("body"):
            continue
        content_type = event.get("headers", {}).get("content-type", "")
        if not content_type.startswith("application/json") or "content-encoding" in event["headers"]:
            continue
        try:
            body = json.loads(event["body"])
        except ValueError:
            continue  # malformed JSON: not a question for the schema
        if len(event["body"]) > 16 * 1024:
            continue  # too large: refused before parsing
        name = f"{file.parent.name}/{file.stem}"
        yield name, routes[file.parent.name], body


def test_events_bodies_fit_the_request_schemas_exactly_as_the_handler_tests_expect():
    refused = set()
    checked = 0
    for name, (method, path), body in event_bodies():
        at = pointer("paths", path, method.lower(), "requestBody", "content", "application/json", "schema")
        if list(validator(at).iter_errors(body)):
            refused.add(name)
        checked += 1
    assert checked >= 30
    shape_errors = {name for name, _, _ in event_bodies() if name.split("/")[1].startswith(SHAPE_ERROR_PREFIX)}
    assert refused == shape_errors
