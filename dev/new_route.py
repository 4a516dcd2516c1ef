"""`make route NAME=… METHOD=… PATH=… [AUTH=bearer|none] [SUMMARY=…]`: a new route, ready to grow.

Writes everything a route is, in the spirit of `cargo lambda new`, such that `make test` passes
right after it:

- functions/<NAME>/: the crate (`main.rs`, the handler in `lib.rs`, handler tests);
- template.yaml: the function, its log group and its role (DynamoDB actions fenced by key
  prefix: a bearer route reads the caller's session and user, `USER#*`; a public one none);
- docs/openapi.yaml: the operation (edit its description, request body and answers);
- Cargo.toml: the local router entry for `make dev`;
- docs/requests.http: one request to click;
- then `make docs`: the route's standard events and docs/api.md's route table.

A bearer route starts as "who am I" (the caller's user, `200`); a public one answers `204`. Change
the handler, its tests and the operation together; `make test` then tells you what the role must
grant (the handler tests record every DynamoDB call) and what the memory size must be.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))
import cfn  # noqa: E402

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def camel(name: str) -> str:
    first, *rest = name.split("-")
    return first + "".join(part.capitalize() for part in rest)


def crate_files(name: str, method: str, path: str, bearer: bool, summary: str) -> dict[str, str]:
    crate = name.replace("-", "_")
    route = f"{method} {path}"
    cargo = f"""[package]
name = "{name}"
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
shared.workspace = true
lambda_http.workspace = true
tokio.workspace = true

[dev-dependencies]
shared = {{ workspace = true, features = ["testing"] }}
serde_json.workspace = true

[lints]
workspace = true
"""
    main = f"""//! Lambda entry point: the cold start and the runtime loop, shared by every function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {{
    shared::runtime::run(env!("CARGO_CRATE_NAME"), {crate}::handler).await
}}
"""
    if bearer:
        body = f"""async fn {crate}(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {{
    let authenticated = authenticate(state, &request).await?;
    Ok(json_response(StatusCode::OK, &authenticated.user))
}}
"""
        imports = """use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::auth::authenticate;
use shared::response::json_response;
use shared::runtime::{Event, EventResponse, respond};
use shared::{ApiError, AppState};
"""
        tests = f"""//! `{route}` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::StatusCode;
use serde_json::json;
use shared::testing::{{
    assert_standard_bearer_refusals, event, lambda_event, new_user, parts, sign_in, state,
    with_header,
}};

#[tokio::test]
async fn a_signed_in_caller_gets_200() {{
    let state = state().await;
    let user = new_user(&state, "{name}").await;
    let bearer = sign_in(&state, &user).await.bearer;
    let event = with_header(event("{name}/ok"), "authorization", &bearer);

    let (status, _, body) = parts({crate}::handler(&state, lambda_event(&event)).await);

    assert_eq!(status, StatusCode::OK, "{{body}}");
    assert_eq!(body["id"], json!(user.id.to_string()));
}}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused() {{
    let state = state().await;
    assert_standard_bearer_refusals("{name}", |event| {crate}::handler(&state, event)).await;
}}
"""
    else:
        body = f"""async fn {crate}(_state: &AppState, _request: Request) -> Result<Response<Body>, ApiError> {{
    Ok(no_content())
}}
"""
        imports = """use lambda_http::{Body, Request, Response};
use shared::response::no_content;
use shared::runtime::{Event, EventResponse, respond};
use shared::{ApiError, AppState};
"""
        tests = f"""//! `{route}` through the real handler, fed the payloads in events/.

use lambda_http::http::StatusCode;
use shared::testing::{{event, lambda_event, parts, state}};

#[tokio::test]
async fn it_answers_204() {{
    let state = state().await;
    let (status, _, body) = parts({crate}::handler(&state, lambda_event(&event("{name}/ok"))).await);
    assert_eq!(status, StatusCode::NO_CONTENT, "{{body}}");
}}
"""
    lib = f"""//! `{route}`: {summary[0].lower() + summary[1:]}.

{imports}
/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {{
    respond(event, |request| {crate}(state, request)).await
}}

{body}"""
    return {
        f"functions/{name}/Cargo.toml": cargo,
        f"functions/{name}/src/main.rs": main,
        f"functions/{name}/src/lib.rs": lib,
        f"functions/{name}/tests/handler.rs": tests,
    }


def alarm_block(resource: str, name: str) -> str:
    """A function's two alarms: invocation errors (which also roll a gradual deployment back)
    and throttles. docs/operations.md says what each means and what to do."""
    return "".join(
        f"""  {resource}{metric}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "{name}: {what}. Runbook: docs/operations.md#{anchor}"
      Namespace: AWS/Lambda
      MetricName: {metric}
      Dimensions: [{{Name: FunctionName, Value: !Ref {resource}Function}}]
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [NotifiesAlarms, [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmEmailTopic]], !Ref AWS::NoValue]
"""
        for metric, what, anchor in (
            ("Errors", "invocations failed (a crash, a timeout, out of memory)", "function-errors"),
            ("Throttles", "invocations were throttled (no concurrency left)", "function-throttles"),
        )
    )


def template_block(name: str, method: str, path: str, bearer: bool, summary: str) -> str:
    resource = pascal(name)
    policies = (
        """      Policies:
        - PolicyName: dynamodb
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [dynamodb:BatchGetItem]
                Resource: !GetAtt UsersTable.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys: ["USER#*"]
"""
        if bearer
        else ""
    )
    return f"""  {resource}Function:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties: {{Binary: {name}}}
    Properties:
      Description: {json.dumps(f"{method} {path} - {summary[0].lower() + summary[1:]}.")}
      Role: !GetAtt {resource}Role.Arn
      LoggingConfig: {{LogGroup: !Ref {resource}Logs}}
      DeploymentPreference: {{Alarms: [!Ref {resource}ErrorsAlarm]}}
      Events:
        Api:
          Type: HttpApi
          Properties: {{ApiId: !Ref HttpApi, Method: {method}, Path: "{path}"}}
  {resource}Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${{AWS::StackName}}/{name}
      RetentionInDays: !Ref LogRetentionDays
{alarm_block(resource, name)}  {resource}Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
      ManagedPolicyArns: [!Ref FunctionBasePolicy]
{policies}
"""


def openapi_operation(name: str, method: str, bearer: bool, summary: str) -> str:
    security = "" if bearer else "      security: []\n"
    if bearer:
        responses = """      responses:
        "200":
          description: The signed-in user.
          headers:
            Cache-Control: { $ref: "#/components/headers/CacheControl" }
          content:
            application/json:
              schema: { $ref: "#/components/schemas/User" }
              examples:
                ada: { $ref: "#/components/examples/User" }
        "400": { $ref: "#/components/responses/UnusableRequest" }
        "401": { $ref: "#/components/responses/BearerRejected" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/ServiceUnavailable" }
"""
    else:
        responses = """      responses:
        "204": { $ref: "#/components/responses/NoContent" }
        "400": { $ref: "#/components/responses/UnusableRequest" }
        "500": { $ref: "#/components/responses/InternalError" }
        "503": { $ref: "#/components/responses/ServiceUnavailable" }
"""
    return f"""    {method.lower()}:
      operationId: {camel(name)}
      summary: {json.dumps(summary)}
      description: |
        {summary}. (Describe the route here: what it accepts, what it guarantees, what each
        refusal means; docs/api.md's route table is generated from this document.)
{security}{responses}"""


def insert_operation(document: str, path: str, operation: str) -> str:
    """Adds the operation under `path` (a new path item at the end of `paths:` if need be)."""
    item = re.search(rf"^  {re.escape(path)}:\n", document, re.M)
    if item:
        end = re.compile(r"^  \S|^\S", re.M).search(document, item.end())
        return document[: end.start()] + operation + "\n" + document[end.start() :]
    end = re.compile(r"^\S", re.M).search(document, document.index("\npaths:\n") + 8)
    return document[: end.start()] + f"  {path}:\n" + operation + "\n" + document[end.start() :]


def insert_router_entry(manifest: str, path: str, method: str, name: str) -> str:
    entry = f'{{ method = "{method}", function = "{name}" }}'
    existing = re.search(rf'^"{re.escape(path)}" = \[(.*)\]$', manifest, re.M)
    if existing:
        return manifest.replace(existing.group(0), f'"{path}" = [{existing.group(1)}, {entry}]')
    return manifest.rstrip("\n") + f'\n"{path}" = [{entry}]\n'


def insert_request(requests: str, method: str, path: str, bearer: bool, summary: str) -> str:
    """One request, while the account of the file's walk-through is still signed in."""
    auth = "Authorization: Bearer {{again.response.body.$.access_token}}\n" if bearer else ""
    block = f"### {summary}\n# expect {200 if bearer or method == 'GET' else 204}\n{method} {{{{baseUrl}}}}{path}\n{auth}\n"
    anchor = "### Delete the account"
    return requests.replace(anchor, block + anchor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="kebab-case function name, e.g. verify-email")
    parser.add_argument("--method", required=True, type=str.upper, choices=METHODS)
    parser.add_argument("--path", required=True, help="the route, e.g. /email/verify or /things/{id}")
    parser.add_argument("--auth", default="bearer", choices=("bearer", "none"))
    parser.add_argument("--summary", default=None, help="one line: what the route does")
    args = parser.parse_args()
    name, method, path = args.name, args.method, args.path
    bearer = args.auth == "bearer"
    summary = (args.summary or f"{method} {path}").rstrip(".")
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        parser.error("NAME must be kebab-case: lower-case letters, digits and single hyphens")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+|/\{[a-z_]+\})+", path):
        parser.error("PATH must look like /a/b or /a/{id}")
    if (ROOT / "functions" / name).exists():
        parser.error(f"functions/{name} exists already")
    if any((m, p) == (method, path) for m, p, _ in cfn.function_routes()):
        parser.error(f"{method} {path} is a route already")
    if re.search(r"\{\w+\}", path):
        parser.error("a path parameter needs its parameter in the operation: add that route by hand")

    for file, text in crate_files(name, method, path, bearer, summary).items():
        target = ROOT / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    template = (ROOT / "template.yaml").read_text()
    anchor = "  UsersTable:\n"
    template = template.replace(anchor, template_block(name, method, path, bearer, summary) + anchor)
    (ROOT / "template.yaml").write_text(template)

    document = (ROOT / "docs" / "openapi.yaml").read_text()
    operation = openapi_operation(name, method, bearer, summary)
    (ROOT / "docs" / "openapi.yaml").write_text(insert_operation(document, path, operation))

    manifest = (ROOT / "Cargo.toml").read_text()
    (ROOT / "Cargo.toml").write_text(insert_router_entry(manifest, path, method, name))

    requests = ROOT / "docs" / "requests.http"
    requests.write_text(insert_request(requests.read_text(), method, path, bearer, summary))

    print(f"""created functions/{name}/ and the route {method} {path}:
  template.yaml        {pascal(name)}Function, {pascal(name)}Logs, {pascal(name)}Role
  docs/openapi.yaml    operation {camel(name)} (describe it there)
  Cargo.toml           the make dev router entry
  docs/requests.http   one request
next: make docs (events, route table), then make test""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
