#!/usr/bin/env bash
# `make bench`: handler latencies in release mode against a local DynamoDB (see docs/benchmarks.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

cargo build --release -p api-tests --example bench
DDB_PORT=$(free_port)
TABLE="accounts-bench-$(date +%s)"
start_dynamodb "$DDB_PORT"
create_table "$DDB_PORT" "$TABLE" >/dev/null
set -a
source dev/local.env
set +a
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT" TABLE_NAME="$TABLE" RUST_LOG=warn
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
cargo run --quiet --release -p api-tests --example bench
