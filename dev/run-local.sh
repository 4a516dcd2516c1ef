#!/usr/bin/env bash
# `make dev`: the API on http://127.0.0.1:$PORT against a local DynamoDB on $DDB_PORT, and the web
# client on http://localhost:$WEB_PORT (PORT + 2), which the API grants CORS and links mail to.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PORT=${PORT:-9000}
DDB_PORT=${DDB_PORT:-8000}
MOTO_PORT=${MOTO_PORT:-$(( DDB_PORT + 1 ))}
DOCS_PORT=${DOCS_PORT:-$(( PORT + 1 ))}
WEB_PORT=${WEB_PORT:-$(( PORT + 2 ))}
# localhost, not 127.0.0.1: the web origin and the API it calls (http://localhost:$PORT) are then
# one site, so that the SameSite=Strict refresh cookie travels (and passkeys will work later).
WEB_ORIGIN="http://localhost:$WEB_PORT"
TABLE=accounts-local

# Every port must be free before anything starts (or any log is opened): another instance's
# processes and logs are never touched.
require_free_port "$PORT" PORT
require_free_port "$DDB_PORT" DDB_PORT
require_free_port "$MOTO_PORT" MOTO_PORT
require_free_port "$DOCS_PORT" DOCS_PORT
require_free_port "$WEB_PORT" WEB_PORT

# A deliberate stop (Ctrl-C, or `make stop` for a run in the background, where shells ignore
# SIGINT) stops what this run started and exits 0.
PID_FILE="$STATE_DIR/dev-$PORT.pid"
echo $$ >"$PID_FILE"
stop_dev() {
  stop_started
  rm -f "$PID_FILE"
}
trap stop_dev EXIT
trap 'exit 0' INT TERM

echo "==> local DynamoDB ($LOCAL_DYNAMODB) on 127.0.0.1:$DDB_PORT; SQS and SES (moto) on 127.0.0.1:$MOTO_PORT"
start_aws "$DDB_PORT" "$MOTO_PORT"
create_table "$DDB_PORT" "$MOTO_PORT" "$TABLE"

echo "==> building the functions"
cargo build --workspace --bins

echo "==> API documents (docs/openapi.yaml, docs/requests.http) on 127.0.0.1:$DOCS_PORT"
start_docs "$DOCS_PORT" "http://127.0.0.1:$PORT"

echo "==> API (cargo lambda watch) on 127.0.0.1:$PORT"
start_api "$PORT" "$DDB_PORT" "$MOTO_PORT" "$TABLE" "" \
  --env-var "ALLOWED_ORIGINS=$WEB_ORIGIN" --env-var "APP_BASE_URL=$WEB_ORIGIN"
# Ready when the emulator answers; a path no route has, so that no function logs the probe.
wait_for_http "http://127.0.0.1:$PORT/.ready" 300

echo "==> mail: the queue delivered to the mailer (dev/mail_poller.py, log in .local/mail-$PORT.log)"
start_mail_poller "$PORT" "$MOTO_PORT" "$TABLE" "$STATE_DIR/mail-$PORT.log"
echo "==> web client (web/, dev/web_server.py) on $WEB_ORIGIN"
start_web "$WEB_PORT" "http://localhost:$PORT"
if ! all_alive; then
  echo "error: the local DynamoDB, the document server or the API stopped while starting; see .local/dynamodb-$DDB_PORT.log, .local/moto-$MOTO_PORT.log and the output above" >&2
  exit 1
fi

cat <<MSG

  Web client:             $WEB_ORIGIN  (sign up, sign in, profile, sessions; mail links open here)
  Accounts API running at http://127.0.0.1:$PORT  (Ctrl-C, or make stop PORT=$PORT, stops everything)
  OpenAPI document:       http://127.0.0.1:$DOCS_PORT/openapi.yaml  (docs/openapi.yaml)
  Requests to click:      docs/requests.http  (VS Code REST Client, JetBrains HTTP Client)
  Mail sent (local SES):  make mail MOTO_PORT=$MOTO_PORT  (or http://127.0.0.1:$MOTO_PORT/local/sent-mail.json)
  Local DynamoDB:         http://127.0.0.1:$DDB_PORT  ($LOCAL_DYNAMODB; LOCAL_DYNAMODB=moto|dynamodb-local chooses)

  curl -i -X POST http://127.0.0.1:$PORT/register -H 'content-type: application/json' \\
       -d '{"email": "ada@example.com", "password": "correct horse battery staple", "name": "Ada"}'

MSG
wait
