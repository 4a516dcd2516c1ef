"""The functions' configuration is one table (`shared::config::VARIABLES`: name, default, range,
meaning); the template's parameters, `dev/local.env` and docs/configuration.md's table are held to it."""

from __future__ import annotations

import functools
import re

import cfn
import config_table

ROOT = cfn.ROOT
TEMPLATE = cfn.load_template()
SET_BY_TEMPLATE = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
LOCAL_ONLY = {"HMAC_KEY", "TOKEN_KEYS_FILE"}  # in AWS the keys come from Secrets Manager, by ARN


@functools.cache
def variables() -> dict[str, dict]:
    return {v["name"]: v for v in config_table.variables()}


def test_docs_configuration_md_has_the_table_as_generated():
    document = config_table.TARGET.read_text()
    assert config_table.current(document) == config_table.render(list(variables().values())), (
        "docs/configuration.md's configuration table is stale: run `make docs`"
    )


def test_the_template_sets_every_variable_but_the_local_key_and_nothing_else():
    assert set(SET_BY_TEMPLATE) == set(variables()) - LOCAL_ONLY


def test_template_parameters_have_the_table_default_and_range():
    parameters = TEMPLATE["Parameters"]
    checked = 0
    for name, value in SET_BY_TEMPLATE.items():
        variable = variables()[name]
        if isinstance(value, dict):
            reference = value.get("Ref")
            if reference not in parameters:
                continue  # a resource of the stack (the table, the secret)
            parameter = parameters[reference]
            checked += 1
            assert str(parameter["Default"]) == str(variable["default"]), name
            if variable["default_kind"] == "number":
                assert parameter["Type"] == "Number", name
                assert parameter.get("MinValue") == variable["min"], name
                assert parameter.get("MaxValue") == variable["max"], name
        else:  # a fixed value in the template
            assert str(value) == str(variable["default"]), name
    assert checked >= 10


def test_local_env_sets_every_variable_within_its_range():
    local = dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", (ROOT / "dev" / "local.env").read_text(), re.M))
    for name, variable in variables().items():
        if name in ("HMAC_KEY_SECRET_ARN", "TOKEN_KEYS_SECRET_ARN"):
            assert name not in local, "locally the key is inline"
            continue
        assert name in local, f"{name} missing from dev/local.env"
        if variable["default_kind"] == "number":
            assert variable["min"] <= int(local[name]) <= variable["max"], name
