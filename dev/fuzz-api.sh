#!/usr/bin/env bash
# `make fuzz-api`: the deep schemathesis run (dev/contract/run.sh deep) against a local DynamoDB
# and API that this script starts on free loopback ports and stops on exit. A new seed each run;
# CONTRACT_SEED=<seed> replays one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

cargo build --workspace --bins
DDB_PORT=$(free_port)
MOTO_PORT=$(free_port)
TABLE="accounts-fuzz-$(date +%s)"
start_aws "$DDB_PORT" "$MOTO_PORT"
create_table "$DDB_PORT" "$MOTO_PORT" "$TABLE"
API_PORT=$(free_port)
echo "==> API on 127.0.0.1:$API_PORT (log in .local/api-fuzz.log)"
start_api "$API_PORT" "$DDB_PORT" "$MOTO_PORT" "$TABLE" "$STATE_DIR/api-fuzz.log"
wait_for_http "http://127.0.0.1:$API_PORT/profile" 300
dev/contract/run.sh "http://127.0.0.1:$API_PORT" deep
