#!/usr/bin/env bash
# `make test`: everything, against services this script starts on free loopback ports and stops
# on exit (success, failure or Ctrl-C). Its exit code is the verdict.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

echo "==> building (functions and tests)"
cargo build --workspace --bins
cargo test --workspace --no-run

DDB_PORT=$(free_port)
MOTO_PORT=$(free_port)
TABLE="accounts-test-$(date +%s)"
echo "==> local DynamoDB ($LOCAL_DYNAMODB) on 127.0.0.1:$DDB_PORT, table $TABLE; SQS and SES (moto) on 127.0.0.1:$MOTO_PORT"
start_aws "$DDB_PORT" "$MOTO_PORT"
create_table "$DDB_PORT" "$MOTO_PORT" "$TABLE"

API_PORT=$(free_port)
echo "==> API (cargo lambda watch) on 127.0.0.1:$API_PORT, log in .local/api-test.log"
# A longer first login-throttle delay than dev/local.env's 1 s, so that a loaded machine cannot
# outlast it between two attempts of the end-to-end throttle test.
E2E_THROTTLE_BASE_DELAY_SECONDS=30
# The DynamoDB budget of every function and handler test (dev/local.env's is 3 s): on a loaded
# 2-core machine a call to the local server may wait seconds for a core, which is not the outage
# a 503 reports. The fault tests set their own (shared::testing::FAULT_BUDGET_MS).
TEST_DYNAMODB_TIMEOUT_MS=15000
export DYNAMODB_TIMEOUT_MS=$TEST_DYNAMODB_TIMEOUT_MS
start_api "$API_PORT" "$DDB_PORT" "$MOTO_PORT" "$TABLE" "$STATE_DIR/api-test.log" \
  --env-var "LOGIN_THROTTLE_BASE_DELAY_SECONDS=$E2E_THROTTLE_BASE_DELAY_SECONDS"
wait_for_http "http://127.0.0.1:$API_PORT/profile" 300
# A second API signing with RS256 (the JWT authorizer's algorithm), for the interoperability test.
RS256_PORT=$(free_port)
API_ALG=RS256 start_api "$RS256_PORT" "$DDB_PORT" "$MOTO_PORT" "$TABLE" "$STATE_DIR/api-rs256-test.log"
wait_for_http "http://127.0.0.1:$RS256_PORT/profile" 300
start_mail_poller "$API_PORT" "$MOTO_PORT" "$TABLE" "$STATE_DIR/mail-test.log"

echo "==> cargo test (unit, store, handler, concurrency, end-to-end)"
set -a
# shellcheck source=local.env
source dev/local.env
set +a
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT" TABLE_NAME="$TABLE"
export DYNAMODB_TIMEOUT_MS=$TEST_DYNAMODB_TIMEOUT_MS  # local.env's 3 s was sourced again
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT" AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$MOTO_PORT"
# moto also plays Secrets Manager for the cold-start tests (shared/tests/startup.rs).
export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$MOTO_PORT"
export MAIL_QUEUE_URL="$(mail_queue_url "$MOTO_PORT" "$TABLE")"
TOKEN_KEYS_FILE="$(token_keys ES256)"
# The handler tests' tokens carry the local API's issuer, as its own do.
export TOKEN_KEYS_FILE TOKEN_ISSUER="http://127.0.0.1:$API_PORT"
export E2E_BASE_URL="http://127.0.0.1:$API_PORT" E2E_THROTTLE_BASE_DELAY_SECONDS
export E2E_RS256_BASE_URL="http://127.0.0.1:$RS256_PORT"
# The handler tests record what each route's handler did (DynamoDB calls, argon2, answers, log
# lines) here; dev/tests/test_records.py holds the template and the logs to them.
rm -rf target/handler-records
cargo test --workspace --no-fail-fast

# The fallback stays true: the store's contract also against the other emulator (moto, what
# make dev runs without Java), and dev/tests/test_local_dynamodb.py compares both.
EMULATORS="$LOCAL_DYNAMODB=http://127.0.0.1:$DDB_PORT"
if [ "$LOCAL_DYNAMODB" = dynamodb-local ]; then
  FALLBACK_DDB_PORT=$(free_port)
  echo "==> the store contract (shared/tests/store.rs) against moto as DynamoDB, the fallback without Java, on 127.0.0.1:$FALLBACK_DDB_PORT"
  LOCAL_DYNAMODB=moto start_dynamodb "$FALLBACK_DDB_PORT"
  create_table "$FALLBACK_DDB_PORT" "$MOTO_PORT" "$TABLE-moto" >/dev/null
  AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$FALLBACK_DDB_PORT" TABLE_NAME="$TABLE-moto" \
    cargo test --workspace --test store
  EMULATORS="$EMULATORS moto=http://127.0.0.1:$FALLBACK_DDB_PORT"
fi

echo "==> jose for the interoperability test (npm ci from dev/interop's lockfile)"
command -v node >/dev/null || { echo "error: make test needs Node.js 20+ (node) for the jose interoperability check" >&2; exit 1; }
(cd dev/interop && npm ci --no-audit --no-fund --silent)

echo "==> web client: its types are docs/openapi.yaml's (openapi-typescript) and it type-checks (tsc)"
(cd web && npm ci --no-audit --no-fund --silent)
(cd web && npx --no-install openapi-typescript ../docs/openapi.yaml --output "$STATE_DIR/api-types.d.ts" >/dev/null)
cmp -s "$STATE_DIR/api-types.d.ts" web/src/api-types.d.ts || {
  echo "error: web/src/api-types.d.ts is stale: run make web-types" >&2
  exit 1
}
(cd web && npx --no-install tsc --project tsconfig.json)

echo "==> records, capacity, template, contract and local-run checks (IAM, logs, costs, sam validate, cfn-lint, OpenAPI, requests.http, the README walkthrough, make smoke, make dev)"
LOCAL_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" LOCAL_MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT" \
  LOCAL_DYNAMODB_EMULATORS="$EMULATORS" "$PY" -m pytest -q -p no:cacheprovider dev/tests

echo "==> the web client in Chromium (web/tests: playwright-core, axe-core)"
if CHROMIUM=$(command -v chromium || command -v chromium-browser); then
  # Its own table and mail queue (so that its mail links open its pages), and its own API: the
  # web origin allowed, mail linking to it, short-lived access tokens to see them refreshed.
  WEB_TABLE="$TABLE-web"
  create_table "$DDB_PORT" "$MOTO_PORT" "$WEB_TABLE" >/dev/null
  WEB_PORT=$(free_port)
  WEB_API_PORT=$(free_port)
  WEB_ACCESS_TOKEN_TTL_SECONDS=60
  start_api "$WEB_API_PORT" "$DDB_PORT" "$MOTO_PORT" "$WEB_TABLE" "$STATE_DIR/api-web-test.log" \
    --env-var "ALLOWED_ORIGINS=http://localhost:$WEB_PORT" \
    --env-var "APP_BASE_URL=http://localhost:$WEB_PORT" \
    --env-var "ACCESS_TOKEN_TTL_SECONDS=$WEB_ACCESS_TOKEN_TTL_SECONDS"
  wait_for_http "http://127.0.0.1:$WEB_API_PORT/profile" 300
  start_mail_poller "$WEB_API_PORT" "$MOTO_PORT" "$WEB_TABLE" "$STATE_DIR/mail-web-test.log"
  start_web "$WEB_PORT" "http://localhost:$WEB_API_PORT"
  started=$(date +%s)
  (cd web && CHROMIUM="$CHROMIUM" WEB_URL="http://localhost:$WEB_PORT" \
    WEB_API_URL="http://localhost:$WEB_API_PORT" OTHER_ORIGIN_URL="http://127.0.0.1:$WEB_PORT" \
    MAIL_URL="http://127.0.0.1:$MOTO_PORT/local/sent-mail.json" \
    WEB_ACCESS_TOKEN_TTL_SECONDS="$WEB_ACCESS_TOKEN_TTL_SECONDS" \
    SCREENSHOTS_DIR="$ROOT/docs/screenshots" node --test tests/)
  echo "==> browser tests took $(( $(date +%s) - started )) s"
else
  cat >&2 <<'WARN'

  !!! BROWSER TESTS SKIPPED: no Chromium on this machine (chromium or chromium-browser).
  !!! Install Debian's:  sudo apt-get install -y chromium   (CI installs it: .ci/run)
  !!! Everything else ran; the web client was not tested.

WARN
fi

# It registers accounts and drives login throttles, which no test before it may meet.
dev/contract/run.sh "$E2E_BASE_URL" quick

# Last, on a stack of its own: everything above is stopped first (the shared local DynamoDB is
# one Python process serialising every call, still busy with the mail the contract run queued),
# so that the load run measures the API rather than what the suite left behind.
stop_started
echo "==> make load for 15 s against a fresh stack ($LOCAL_DYNAMODB; Locust, dev/load), then the table checked"
start_load_stack accounts-load
PORT=$LOAD_API_PORT DDB_PORT=$LOAD_DDB_PORT TABLE=accounts-load LOAD_SECONDS=15 LOAD_USERS=12 dev/load/run.sh
