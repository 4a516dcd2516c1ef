"""Offline proofs about template.yaml: it validates, it lints clean, and it agrees with the code,
the local router, the events, the docs and the local table."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib
import uuid

import cfn
import doc_block
import pytest
import yaml

ROOT = cfn.ROOT
BIN = pathlib.Path(sys.executable).parent
TEMPLATE = cfn.load_template()
FUNCTIONS = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function")
ROUTES = cfn.function_routes(TEMPLATE)  # {(METHOD, path, binary)}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
    }
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------ validation and lint


# This stack's template, the example of a product's own API behind a JWT authorizer, and the
# web client's distribution (web and API on one origin).
TEMPLATES = ["template.yaml", "examples/product-api/template.yaml", "web/template.yaml"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_sam_validate_passes_with_the_sam_translator(template):
    result = run(str(BIN / "sam"), "validate", "--template", template)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_cfn_lint_with_serverless_rules_reports_nothing(template):
    # Any check the template deliberately ignores is listed, with its reason, in the template's
    # Metadata: cfn-lint section; everything else must be clean (exit 0: no errors, no warnings).
    result = run(
        str(BIN / "cfn-lint"), "--append-rules", "cfn_lint_serverless.rules", "--", template
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ one set of routes everywhere


def test_the_local_router_in_cargo_toml_mirrors_the_template():
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
    local = {
        (entry["method"].upper(), path, entry["function"])
        for path, entries in router.items()
        for entry in entries
    }
    # The template answers every CORS preflight with one OPTIONS /{proxy+} route; the emulator
    # matches a path before its method, so the local router lists OPTIONS on each path instead.
    assert cfn.http_api_routes(TEMPLATE) == ROUTES | {cfn.PREFLIGHT_ROUTE}
    _, _, preflight = cfn.PREFLIGHT_ROUTE
    assert {(path, fn) for method, path, fn in local if method == "OPTIONS"} == {
        (path, preflight) for path in router
    }
    assert {route for route in local if route[0] != "OPTIONS"} == ROUTES


def test_every_route_has_a_function_binary_of_that_name():
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    # Every folder under functions/ is a workspace member: a new route is a new folder.
    assert "functions/*" in manifest["workspace"]["members"]
    for _, _, binary in ROUTES:
        package = tomllib.loads((ROOT / "functions" / binary / "Cargo.toml").read_text())
        assert package["package"]["name"] == binary  # cargo lambda builds the package's binary
        assert (ROOT / "functions" / binary / "src" / "main.rs").is_file()
    # Every folder is a function of the template: a route's, or one no request calls (the
    # mailer, on its queue).
    binaries = {
        f["Metadata"]["BuildProperties"]["Binary"]
        for f in cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function").values()
    }
    assert {b for _, _, b in ROUTES} <= binaries
    assert {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()} == binaries


def test_events_are_what_the_generator_writes_and_every_route_has_its_standard_ones():
    import make_events

    standard = make_events.standard_events()
    for _, _, binary in ROUTES:
        assert f"{binary}/ok" in standard, binary
    for name, payload in make_events.all_events().items():
        file = ROOT / "events" / f"{name}.json"
        assert file.is_file(), f"events/{name}.json is missing: run `make docs`"
        assert file.read_text() == make_events.text(payload), f"events/{name}.json is stale: run `make docs`"


def test_every_event_is_an_http_api_request_for_its_route():
    routes_by_binary = {binary: (method, path) for method, path, binary in ROUTES}
    # Besides the routes' folders, those of functions no HTTP request calls may hold their own
    # event shapes (the authorizer's: API Gateway's authorizer payloads).
    binaries = {
        f["Metadata"]["BuildProperties"]["Binary"]
        for f in cfn.resources_of_type(TEMPLATE, "AWS::Serverless::Function").values()
    }
    folders = {p.name for p in (ROOT / "events").iterdir() if p.is_dir()}
    assert set(routes_by_binary) <= folders <= binaries
    for folder in folders - set(routes_by_binary):
        for file in sorted((ROOT / "events" / folder).glob("*.json")):
            event = json.loads(file.read_text())
            assert event["version"] == "2.0" and "routeKey" in event, file
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    for binary, (method, path) in routes_by_binary.items():
        files = sorted((ROOT / "events" / binary).glob("*.json"))
        operation = document["paths"][path][method.lower()]
        # A route that takes a body or a token has bad ones to refuse; one that takes neither
        # (a public GET) may have only its `ok`.
        takes_input = "requestBody" in operation or operation.get("security") != []
        assert len(files) >= (2 if takes_input else 1), f"events/{binary} needs good and bad cases"
        assert any(f.name == "ok.json" for f in files)
        # A path parameter ({id}) matches one path segment, which the event also carries.
        pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        for file in files:
            event = json.loads(file.read_text())
            assert event["version"] == "2.0", file
            assert event["routeKey"] == f"{method} {path}", file
            assert event["requestContext"]["http"]["method"] == method, file
            match = pattern.match(event["rawPath"])
            assert match, (file, event["rawPath"])
            assert event.get("pathParameters", {}) == match.groupdict(), file


# ------------------------------------------------------------------ the table


def test_the_local_table_equals_the_template_table():
    endpoint = os.environ.get("LOCAL_DYNAMODB_ENDPOINT")
    assert endpoint, "LOCAL_DYNAMODB_ENDPOINT is set by `make test`"
    import local_table

    name = f"table-check-{uuid.uuid4().hex[:8]}"
    local_table.create(endpoint, name)
    client = local_table.client(endpoint)
    table = client.describe_table(TableName=name)["Table"]
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    props = cfn.table_properties(TEMPLATE)

    def keyset(items):
        return sorted(tuple(sorted(i.items())) for i in items)

    assert keyset(table["KeySchema"]) == keyset(props["KeySchema"])
    assert keyset(table["AttributeDefinitions"]) == keyset(props["AttributeDefinitions"])
    assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"] == "PAY_PER_REQUEST"
    local_indexes = {i["IndexName"]: keyset(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])}
    template_indexes = {
        i["IndexName"]: keyset(i["KeySchema"]) for i in props.get("GlobalSecondaryIndexes", [])
    }
    assert local_indexes == template_indexes
    assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    client.delete_table(TableName=name)


def test_the_code_uses_the_template_key_and_ttl_attributes():
    source = (ROOT / "shared" / "src" / "store" / "item.rs").read_text()
    constants = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', source))
    props = cfn.table_properties(TEMPLATE)
    keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    assert constants["PARTITION_KEY"] == keys["HASH"]
    assert constants["SORT_KEY"] == keys["RANGE"]
    assert constants["TTL_ATTRIBUTE"] == props["TimeToLiveSpecification"]["AttributeName"]


# ------------------------------------------------------------------ production properties


def test_table_survives_stack_deletion_and_is_protected():
    (table,) = cfn.resources_of_type(TEMPLATE, "AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"]["Enabled"] is True


def test_functions_are_arm64_al2023_rust_builds_with_tracing():
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "provided.al2023"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Handler"] == "bootstrap"
    assert globals_["CodeUri"] == "."
    assert globals_["Tracing"] == "Active"
    logs = cfn.resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    for name, function in FUNCTIONS.items():
        assert function["Metadata"]["BuildMethod"] == "rust-cargolambda", name
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        binary = function["Metadata"]["BuildProperties"]["Binary"]
        assert logs[group]["Properties"]["LogGroupName"] == {
            "Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{binary}"
        }, name


def test_the_keys_live_in_secrets_and_only_their_arns_are_passed():
    secrets = cfn.resources_of_type(TEMPLATE, "AWS::SecretsManager::Secret")
    assert set(secrets) == {"TokenSigningKey", "TokenKeys"}
    # The HMAC key is generated by Secrets Manager; the keyset is put by `make rotate-key`.
    assert secrets["TokenSigningKey"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "GenerateSecretString" not in secrets["TokenKeys"]["Properties"]
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert "HMAC_KEY" not in variables and "TOKEN_KEYS_FILE" not in variables
    # The HMAC key is the secret that signed HS256 tokens before: the same value, nobody signed out.
    assert variables["HMAC_KEY_SECRET_ARN"] == {"Ref": "TokenSigningKey"}
    assert variables["TOKEN_KEYS_SECRET_ARN"] == {"Ref": "TokenKeys"}
    assert not any("key" in p.lower() and "secret" in p.lower() for p in TEMPLATE["Parameters"])


def _statements(policy_holder):
    for policy in policy_holder["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]
    yield from policy_holder["Properties"].get("PolicyDocument", {}).get("Statement", [])


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _role(function):
    return TEMPLATE["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]


def test_the_shared_policy_grants_logs_tracing_and_the_key_and_nothing_else():
    (name, policy), = cfn.resources_of_type(TEMPLATE, "AWS::IAM::ManagedPolicy").items()
    actions = set()
    for statement in _statements(policy):
        assert statement["Effect"] == "Allow"
        statement_actions = set(_as_list(statement["Action"]))
        actions |= statement_actions
        if statement["Resource"] == "*":
            # X-Ray trace submission cannot be scoped to a resource (an AWS limitation).
            assert statement_actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        if "secretsmanager:GetSecretValue" in statement_actions:
            assert statement["Resource"] == [{"Ref": "TokenSigningKey"}, {"Ref": "TokenKeys"}]
        if "logs:PutLogEvents" in statement_actions:
            assert "/aws/lambda/${AWS::StackName}/*" in statement["Resource"]["Fn::Sub"]
    assert actions == {
        "secretsmanager:GetSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for function in FUNCTIONS.values():
        assert _role(function)["Properties"]["ManagedPolicyArns"] == [{"Ref": name}]


def test_every_log_group_has_the_retention_parameter():
    groups = cfn.resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    assert len(groups) == len(FUNCTIONS) + 1  # one per function + API access logs
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_http_api_is_throttled_logged_and_cors_is_the_functions_opt_in():
    (api,) = cfn.resources_of_type(TEMPLATE, "AWS::Serverless::HttpApi").values()
    props = api["Properties"]
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status"} <= set(log_format)
    # CORS is shared/src/browser.rs' (one policy locally and in AWS, preflights included): a
    # gateway CorsConfiguration would override the functions' headers.
    assert "CorsConfiguration" not in props
    assert TEMPLATE["Parameters"]["AllowedOrigins"]["Default"] == ""
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ALLOWED_ORIGINS"] == {"Ref": "AllowedOrigins"}
    method, path, binary = cfn.PREFLIGHT_ROUTE
    assert (method, path, binary) in cfn.http_api_routes(TEMPLATE)


def test_outputs_give_the_url_table_and_secret():
    assert {"ApiUrl", "TableName", "TokenSigningKeySecretArn"} <= set(TEMPLATE["Outputs"])


# ------------------------------------------------------------------ operations: alarms, rollout, stages

ALARMS = cfn.resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def test_every_function_has_its_errors_and_throttles_alarms_and_rolls_back_on_errors():
    for name, function in FUNCTIONS.items():
        resource = name.removesuffix("Function")
        for metric in ("Errors", "Throttles"):
            alarm = ALARMS.get(f"{resource}{metric}Alarm")
            assert alarm, f"{name} has no {resource}{metric}Alarm (make route writes both)"
            props = alarm["Properties"]
            assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", metric)
            assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        preference = function["Properties"]["DeploymentPreference"]
        assert preference == {"Alarms": [{"Ref": f"{resource}ErrorsAlarm"}]}, name


def test_deployments_are_gradual_through_the_live_alias_and_watch_the_api_5xx_rate():
    import rotate_key

    globals_ = TEMPLATE["Globals"]["Function"]
    # make rotate-key's recycling republishes behind this alias.
    assert globals_["AutoPublishAlias"] == rotate_key.LIVE_ALIAS
    assert globals_["DeploymentPreference"] == {
        "Type": {"Ref": "DeploymentStrategy"},
        "Alarms": [{"Ref": "ApiServerErrorsAlarm"}],
    }
    strategy = TEMPLATE["Parameters"]["DeploymentStrategy"]
    assert strategy["Default"] == "Canary10Percent5Minutes"
    assert strategy["Default"] in strategy["AllowedValues"]
    # Whoever invokes the authorizer invokes what deployments move.
    assert TEMPLATE["Outputs"]["AuthorizerFunctionArn"]["Value"] == {"Ref": "AuthorizerFunction.Alias"}


def test_the_stack_alarms_watch_5xx_dynamodb_throttles_dead_letters_and_login_429s():
    assert {"ApiServerErrorsAlarm", "TableThrottlesAlarm", "MailDeadLetterAlarm", "LoginThrottledAlarm"} <= set(ALARMS)
    (login_filter,) = cfn.resources_of_type(TEMPLATE, "AWS::Logs::MetricFilter").values()
    props = login_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": "LoginLogs"}
    # The line shared/src/http.rs writes for every answer.
    assert '$.message = "request completed"' in props["FilterPattern"]
    assert "$.status = 429" in props["FilterPattern"]
    assert '"request completed"' in (ROOT / "shared" / "src" / "http.rs").read_text()
    metric = props["MetricTransformations"][0]
    alarm = ALARMS["LoginThrottledAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (metric["MetricNamespace"], metric["MetricName"])


def test_every_alarm_notifies_when_asked_and_names_its_runbook_section():
    anchors = doc_block.anchors(OPERATIONS)
    notify = {"Fn::If": ["NotifiesAlarms", [{"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmEmailTopic"}]}], {"Ref": "AWS::NoValue"}]}
    for name, alarm in ALARMS.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == notify, name
        assert props["TreatMissingData"] == "notBreaching", name
        description = props["AlarmDescription"]
        description = description.get("Fn::Sub", description) if isinstance(description, dict) else description
        (anchor,) = re.findall(r"docs/operations\.md#([\w-]+)", description)
        assert anchor in anchors, f"{name}: docs/operations.md has no section #{anchor}"


def test_the_dashboard_is_valid_json_once_substituted():
    (dashboard,) = cfn.resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    body = re.sub(r"\$\{[\w:.]+\}", "1", dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    widgets = json.loads(body)["widgets"]
    titles = {w["properties"].get("title") for w in widgets}
    assert {"API answers per minute", "Function errors", "Function throttles", "DynamoDB capacity used and throttled", "Mail queue"} <= titles


def test_samconfig_has_three_stages_each_its_own_stack_with_template_parameters_only():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    stacks = set()
    for stage in ("dev", "staging", "prod"):
        deploy = config[stage]["deploy"]["parameters"]
        stacks.add(deploy["stack_name"])
        assert deploy["resolve_s3"] is True and deploy["capabilities"] == "CAPABILITY_IAM"
        overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
        assert overrides["StageName"] == stage
        assert set(overrides) <= set(TEMPLATE["Parameters"]), stage
        strategy = TEMPLATE["Parameters"]["DeploymentStrategy"]["AllowedValues"]
        assert overrides["DeploymentStrategy"] in strategy
        assert config[stage]["build"]["parameters"]["beta_features"] is True  # rust-cargolambda
    assert len(stacks) == 3
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


def test_docs_deploy_md_names_every_parameter_with_its_default():
    text = (ROOT / "docs" / "deploy.md").read_text()
    deploy = text[text.index("Parameters ("):]  # the list of parameters
    for name, parameter in TEMPLATE["Parameters"].items():
        assert f"`{name}`" in deploy, f"docs/deploy.md does not name the parameter {name}"
        default = str(parameter.get("Default", ""))
        after = deploy[deploy.index(f"`{name}`"):][:200]
        if default:
            assert default in after, f"docs/deploy.md gives {name} without its default {default!r}"
        else:
            assert "[empty" in after, f"docs/deploy.md should say {name} is empty by default"


def test_make_route_writes_a_function_with_its_alarms_and_rollback_as_the_template_has_them():
    import new_route

    block = new_route.template_block("say-hello", "GET", "/hello", True, "Says hello")
    resources = yaml.load("Resources:\n" + block, Loader=cfn._CfnLoader)["Resources"]
    assert set(resources) == {"SayHelloFunction", "SayHelloLogs", "SayHelloErrorsAlarm",
                              "SayHelloThrottlesAlarm", "SayHelloRole"}  # fmt: skip
    function = resources["SayHelloFunction"]["Properties"]
    assert function["DeploymentPreference"] == {"Alarms": [{"Ref": "SayHelloErrorsAlarm"}]}
    for metric in ("Errors", "Throttles"):
        alarm = resources[f"SayHello{metric}Alarm"]["Properties"]
        existing = ALARMS["RegisterErrorsAlarm"]["Properties"]
        assert set(alarm) == set(existing)
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "SayHelloFunction"}}]
        assert alarm["AlarmActions"] == existing["AlarmActions"]
