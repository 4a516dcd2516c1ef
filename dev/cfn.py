"""Reads template.yaml, the single source of truth for routes and the table definition.

Used by `local_table.py` (to create the local table exactly as the template declares it) and by
the template tests in dev/tests/.
"""

from __future__ import annotations

import pathlib
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def table_properties(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Properties of the template's one DynamoDB table."""
    tables = resources_of_type(template or load_template(), "AWS::DynamoDB::Table")
    assert len(tables) == 1, f"expected one table, found {sorted(tables)}"
    return next(iter(tables.values()))["Properties"]


def create_table_input(name: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """CreateTable arguments for a table shaped like the template's."""
    props = table_properties(template)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    indexes = props.get("GlobalSecondaryIndexes")
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    return request


# The CORS preflight catch-all: OPTIONS on every path, to the preflight function.
PREFLIGHT_ROUTE = ("OPTIONS", "/{proxy+}", "preflight")


def http_api_routes(template: dict[str, Any] | None = None) -> set[tuple[str, str, str]]:
    """(METHOD, path, binary) for every HttpApi event of every function."""
    template = template or load_template()
    routes = set()
    for resource in resources_of_type(template, "AWS::Serverless::Function").values():
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                routes.add((props["Method"].upper(), props["Path"], binary))
    return routes


def function_routes(template: dict[str, Any] | None = None) -> set[tuple[str, str, str]]:
    """(METHOD, path, binary) for every route of the API: every HttpApi event but the CORS
    preflight catch-all, which is no operation of the API (not in the OpenAPI document)."""
    return http_api_routes(template) - {PREFLIGHT_ROUTE}
